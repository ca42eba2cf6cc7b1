/*
 * emu_gen.h — pinpipe-emulate's pin generator: pins with the formats, placeholder
 * strings and placeholder combinations of the real data set, reproducible from a seed.
 */
#ifndef EMU_GEN_H
#define EMU_GEN_H

#include <stdbool.h>
#include <stdint.h>

#include "strbuf.h"

/* xoshiro256**, seeded through splitmix64: fast, good, and reproducible with --seed. */
typedef struct EmuRng
{
	uint64_t s[4];
} EmuRng;

typedef struct EmuGen
{
	EmuRng rng;
	double invalid_rate;
	int profile_total;
	uint64_t generated;
	uint64_t invalid;
} EmuGen;

/* Seed the generator; invalid_rate (0..1) of the pins are made invalid on purpose. */
void GenInit(EmuGen *g, uint64_t seed, double invalid_rate);

/*
 * Append one pin as a JSON object; *invalid_out says whether it was broken on
 * purpose, *index_out is its row index (also when the pin's "index" was broken on
 * purpose). Out of memory sets out->oom (strbuf.h), for the caller to check.
 */
void GenPin(EmuGen *g, StrBuf *out, bool *invalid_out, int *index_out);

/* Append the geolocation or user record of row ind (the 2023 data set's other streams). */
void GenGeo(EmuGen *g, int ind, StrBuf *out);
void GenUser(EmuGen *g, int ind, StrBuf *out);

/* Uniform in [0, n): the generator's own stream (row picks, shuffles under --seed). */
uint64_t GenBelow(EmuGen *g, uint64_t n);

#endif /* EMU_GEN_H */
