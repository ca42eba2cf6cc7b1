/*
 * pinpipe-emulate — the reference pipeline's user-posting emulator, done properly.
 *
 * The reference project's user_posting_emulation.py posts one random row at a time in
 * an endless loop, sleeping between posts, and never says what happened. This program
 * generates pins that look like the real data set (same formats, same placeholder
 * strings at the same rates and in the same combinations), or replays a JSONL file,
 * posts them to pinpipe's HTTP worker (or any FastAPI-compatible /pin/ endpoint) at a
 * target rate with a fixed number of connections, and reports what came back:
 * accepted / rejected / errors, the achieved rate and the latency percentiles.
 *
 * One thread drives every connection through libcurl's multi interface: a request
 * slot per connection, an open-loop schedule (request k is due at start + k·N/rate),
 * keep-alive connections reused across requests. Latencies go into a log-linear
 * histogram (64 sub-buckets per power of two, i.e. within 1.6% like HdrHistogram
 * with two significant digits), so memory is constant however long it runs.
 *
 * Self-contained on purpose (own JSON writer and PRNG): it builds and runs on a client
 * machine without the extension's sources. Run with --help for the manual.
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define EMU_DEFAULT_URL "http://127.0.0.1:8000/pin/"
#define EMU_MAX_RESPONSE (256 * 1024) /* response bytes kept per request (batch results) */
#define EMU_MAX_SAMPLE 300			  /* bytes of the first failure shown in the report */

/* ---------------------------------------------------------------- utilities */

static void
Die(const char *fmt, ...)
{
	va_list ap;

	fputs("pinpipe-emulate: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static double
NowSeconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A growable byte buffer; allocation failure is fatal (a load generator has no plan B). */
typedef struct EmuBuf
{
	char *data;
	size_t len;
	size_t cap;
} EmuBuf;

static void
BufReserve(EmuBuf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 1024;

	while (cap < b->len + extra + 1)
		cap *= 2;
	b->data = realloc(b->data, cap);
	if (b->data == NULL)
		Die("out of memory");
	b->cap = cap;
}

static void
BufPut(EmuBuf *b, const char *s, size_t n)
{
	BufReserve(b, n);
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void
BufPuts(EmuBuf *b, const char *s)
{
	BufPut(b, s, strlen(s));
}

static void
BufPrintf(EmuBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
BufPrintf(EmuBuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	BufReserve(b, (size_t) n);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t) n;
}

/* Append s as a JSON string literal (quotes included); UTF-8 passes through unescaped. */
static void
BufPutJsonString(EmuBuf *b, const char *s, size_t n)
{
	BufReserve(b, n + 2);
	b->data[b->len++] = '"';
	for (size_t i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c == '"' || c == '\\')
		{
			BufReserve(b, 2);
			b->data[b->len++] = '\\';
			b->data[b->len++] = (char) c;
		}
		else if (c == '\n')
			BufPut(b, "\\n", 2);
		else if (c == '\t')
			BufPut(b, "\\t", 2);
		else if (c < 0x20)
			BufPrintf(b, "\\u%04x", c);
		else
		{
			BufReserve(b, 1);
			b->data[b->len++] = (char) c;
		}
	}
	BufReserve(b, 1);
	b->data[b->len++] = '"';
	b->data[b->len] = '\0';
}

/* ---------------------------------------------------------------- PRNG */

/* xoshiro256**, seeded through splitmix64: fast, good, and reproducible with --seed. */
typedef struct EmuRng
{
	uint64_t s[4];
} EmuRng;

static uint64_t
SplitMix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void
RngSeed(EmuRng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = SplitMix64(&seed);
}

static inline uint64_t
Rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t
RngNext(EmuRng *r)
{
	uint64_t *s = r->s;
	uint64_t result = Rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = Rotl(s[3], 45);
	return result;
}

/* Uniform in [0, 1). */
static double
RngUniform(EmuRng *r)
{
	return (RngNext(r) >> 11) * 0x1.0p-53;
}

/* Uniform in [0, n). */
static uint64_t
RngBelow(EmuRng *r, uint64_t n)
{
	return (uint64_t) (((unsigned __int128) RngNext(r) * n) >> 64);
}

#define PICK(r, arr) ((arr)[RngBelow((r), sizeof(arr) / sizeof((arr)[0]))])

/* ---------------------------------------------------------------- the real data's shape */

/*
 * Placeholder combinations, with their counts in the real data set (3,852 pins of
 * /work/shared/data/pins_sample.jsonl). Placeholders are not independent: a pin the
 * scraper failed on has them all at once, and "Story format" descriptions only occur
 * on story pages. Drawing whole profiles keeps both the marginal rates (follower_count
 * error 0.8%, tag_list 1.6%, title 0.8%, description 7.7% + 1.6%, image_src 2.6%) and
 * their correlations.
 */
typedef struct PinProfile
{
	int weight;
	bool follower_error; /* follower_count = "User Info Error" */
	bool tags_error;	 /* tag_list = "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e" */
	char title;			 /* '-' real, 't' "No Title Data Available", 'e' empty */
	char description;	 /* '-' real, 'S' "... Story format", 'D' "No description available" */
	bool image_error;	 /* image_src = "Image src error.", downloaded = 0 */
	char poster;		 /* '-' real, 'P' "User Info Error", '0' absent (pre-2023 records) */
	const char *media;
} PinProfile;

#define MEDIA_IMAGE "image"
#define MEDIA_VIDEO "video"
#define MEDIA_STORY "multi-video(story page format)"

static const PinProfile pin_profiles[] = {
	{3357, false, false, '-', '-', false, '-', MEDIA_IMAGE},
	{187, false, false, '-', 'S', false, '-', MEDIA_STORY},
	{106, false, false, '-', '-', false, '-', MEDIA_VIDEO},
	{71, false, false, '-', 'S', true, '-', MEDIA_STORY},
	{58, false, false, '-', 'D', false, '-', MEDIA_IMAGE},
	{29, true, true, 't', 'S', true, 'P', MEDIA_STORY},
	{24, false, true, '-', '-', false, '-', MEDIA_IMAGE},
	{5, false, true, '-', 'S', false, '-', MEDIA_STORY},
	{4, false, false, '-', 'D', false, '-', MEDIA_VIDEO},
	{4, false, false, '-', '-', false, '0', MEDIA_IMAGE},
	{3, false, true, '-', '-', false, '-', MEDIA_VIDEO},
	{2, false, false, '-', 'S', false, '0', MEDIA_STORY},
	{1, true, true, 't', 'S', true, '0', MEDIA_STORY},
	{1, false, false, 'e', 'S', true, '-', MEDIA_STORY},
};

/* Of the 3,494 real descriptions that are not placeholders, 1,382 end in "…\u00a0". */
#define TRUNCATED_DESCRIPTION_RATE (1382.0 / 3494.0)
/* 8 of 3,852 titles contain a newline. */
#define TITLE_NEWLINE_RATE (8.0 / 3852.0)

/* follower_count forms among the 3,822 real values: 677 plain, 2,836 "k", 309 "M". */
#define FOLLOWERS_PLAIN_WEIGHT 677
#define FOLLOWERS_K_WEIGHT 2836
#define FOLLOWERS_M_WEIGHT 309
/* The "M" values seen, weighted by their counts (2M 131, 5M 67, 1M 57, ...). */
static const int followers_millions[] = {1, 2, 3, 4, 5, 6, 7, 8, 15};
static const int followers_millions_weight[] = {57, 131, 15, 17, 67, 4, 1, 13, 4};

#define PH_FOLLOWERS "User Info Error"
#define PH_TAGS "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e"
#define PH_TITLE "No Title Data Available"
#define PH_STORY "No description available Story format"
#define PH_DESCRIPTION "No description available"
#define PH_IMAGE "Image src error."
#define PH_POSTER "User Info Error"
#define ELLIPSIS_NBSP "\xe2\x80\xa6\xc2\xa0" /* "…" U+2026 then U+00A0 */

typedef struct CategoryWords
{
	const char *name;
	const char *nouns[12];
	const char *brands[4];
} CategoryWords;

static const CategoryWords categories[] = {
	{"art", {"Watercolor Painting", "Abstract Art", "Acrylic Pour", "Pencil Drawing", "Art Print", "Canvas Art", "Illustration", "Sketchbook", "Collage", "Portrait", "Oil Painting", "Street Art"}, {"Bored Panda", "Color Made Happy", "Arty Crafty Kids", "Zezè"}},
	{"beauty", {"Makeup Look", "Skin Care Routine", "Nail Art", "Hair Color", "Eyeliner", "Braided Hairstyle", "Lipstick", "Face Mask", "Curly Hair", "Eyebrows", "Glow Serum", "Balayage"}, {"Glamour", "Byrdie", "Beauty Bay", "Amélie Beauté"}},
	{"christmas", {"Christmas Tree", "Holiday Wreath", "Gingerbread House", "Advent Calendar", "Stocking", "Christmas Cookies", "Ornament", "Nativity Scene", "Garland", "Snow Globe", "Elf On The Shelf", "Christmas Table"}, {"Walmart", "Country Living", "One Little Project", "Noël à la Maison"}},
	{"diy-and-crafts", {"Paper Flowers", "Mason Jar", "Macrame Hanger", "Felt Gnome", "Wood Sign", "Crochet Blanket", "Resin Coaster", "Pallet Shelf", "Candle", "Embroidery Hoop", "Sewing Project", "Cricut Idea"}, {"One Little Project", "Crafty Morning", "TheUnstitchd", "Hand Made Kathé"}},
	{"education", {"Classroom Management", "Reading Strategy", "Math Worksheet", "Science Experiment", "Phonics Game", "Study Tip", "Lesson Plan", "Writing Prompt", "Homeschool Schedule", "Teaching Idea", "Sight Words", "History Lesson"}, {"Teachers Pay Teachers", "We Are Teachers", "Education.com", "Maestra Señora"}},
	{"event-planning", {"Wedding Decoration", "Balloon Arch", "Party Favor", "Table Centerpiece", "Baby Shower", "Birthday Party", "Event Timeline", "Bridal Shower", "Backdrop", "Reception Idea", "Party Theme", "Event Budget"}, {"Wedding Wire", "Party City", "The Knot", "Fêtes Élégantes"}},
	{"finance", {"Budget Plan", "Saving Money", "Debt Payoff", "Side Hustle", "Passive Income", "Dividend Stock", "Retirement Plan", "Money Tip", "Frugal Living", "Emergency Fund", "Investing", "Credit Score"}, {"Dividends Diversify: Money Matters So Build Wealth & Be Rich", "Our Mindful Life", "Making Sense of Cents", "Finanças Fáceis"}},
	{"home-decor", {"Living Room", "Farmhouse Kitchen", "Boho Bedroom", "Porch Decor", "Wall Shelf", "Bathroom Makeover", "Cozy Nook", "Rustic Decor", "Gallery Wall", "Entryway", "Modern Home", "Plant Corner"}, {"Next Luxury", "Country Decor", "House Beautiful", "Maison Côté"}},
	{"mens-fashion", {"Casual Outfit", "Street Style", "Leather Jacket", "Chelsea Boots", "Suit Style", "Denim Look", "Summer Outfit", "Watch", "Beard Style", "Smart Casual", "Winter Coat", "Sneakers"}, {"Mens Fashion - LIFESTYLE BY PS ", "TheTrendSpotter", "Wear24-7", "Señor Estilo"}},
	{"quotes", {"Love Quote", "Life Lesson", "Motivational Quote", "Wise Word", "Friendship Quote", "Self Love", "Inspirational Saying", "Deep Thought", "Positive Vibe", "Relationship Quote", "Soul Poetry", "Funny Quote"}, {"YourTango", "The Minds Journal", "SOCIETY19", "Frases Bonitas ♡"}},
	{"tattoos", {"Small Tattoo", "Fine Line Tattoo", "Sleeve Tattoo", "Floral Tattoo", "Minimalist Tattoo", "Wrist Tattoo", "Script Tattoo", "Mandala Tattoo", "Geometric Tattoo", "Back Tattoo", "Matching Tattoo", "Tattoo Design"}, {"Boop Decals", "Tattoo Ideas", "Inkstinct", "Tatuajes Únicos"}},
	{"travel", {"Travel Destination", "Road Trip", "Beach Vacation", "Packing List", "Hidden Gem", "City Guide", "Bucket List", "Hiking Trail", "Island Getaway", "Travel Tip", "National Park", "Weekend Trip"}, {"HikenDip", "Lonely Planet", "Travel Off Path", "Voyage Départ"}},
	{"vehicles", {"Classic Car", "Sports Car", "Motorcycle", "Camper Van", "Muscle Car", "Off Road Truck", "Vintage Porsche", "Car Interior", "Custom Bike", "Jeep Build", "Race Car", "Electric Car"}, {"Mala Rock | Rock T-shirts", "Car and Driver", "Jacqueline MB Designs", "Motoren Müller"}},
};

#define NCATEGORIES (sizeof(categories) / sizeof(categories[0]))

static const char *const adjectives[] = {
	"Easy", "Simple", "Beautiful", "Cute", "Modern", "Vintage", "Amazing", "Creative",
	"Cozy", "Minimalist", "Rustic", "Colorful", "Unique", "Stunning", "Cheap", "Best",
	"Aesthetic", "Classic", "Elegant", "Fun", "DIY", "Quick", "Small", "Big"};
static const char *const endings[] = {"Ideas", "Tips", "Inspiration", "Tutorial", "For Beginners", "Projects", "Designs", "Hacks", "Guide", "Trends"};
static const char *const first_names[] = {"Jacqueline", "Josie", "Emma", "Liam", "Sofía", "Chloé", "Noah", "Ava", "Mateo", "Zoë", "Olivia", "Lucas", "Inés", "Björn", "Aiko", "Priya"};
static const char *const last_names[] = {"Bergeron", "Lewis", "Smith", "García", "Martin", "Nguyen", "Kowalski", "Müller", "Rossi", "O'Brien", "Johansson", "Patel", "Silva", "Dubois"};
static const char *const title_emoji[] = {"🍂", "✨", "🎄", "💕", "🌸", "🔥", "😍", "⭐"};
static const char *const sentence_openers[] = {
	"Learn how to make", "Check out these", "Discover the best", "Here are some",
	"Get inspired by", "Looking for", "Try this", "We rounded up",
	"Our favorite", "Everything you need to know about"};
static const char *const sentence_closers[] = {
	"that you will love", "for every budget", "in just a few minutes", "you can try today",
	"that are perfect for beginners", "the whole family will enjoy", "to save for later",
	"with free printables", "that look expensive but aren’t", "— step by step"};

/* ---------------------------------------------------------------- generator */

typedef enum InvalidKind
{
	INVALID_MISSING_UUID,	/* a required field absent */
	INVALID_BAD_UUID,		/* unique_id not a UUID */
	INVALID_INDEX_NOT_INT,	/* "index": "abc" */
	INVALID_DOWNLOADED_LIST, /* "downloaded": [1] */
	INVALID_TITLE_OBJECT,	/* "title": {"…": 1} */
	INVALID_NKINDS
} InvalidKind;

typedef struct EmuGen
{
	EmuRng rng;
	double invalid_rate;
	int profile_total;
	uint64_t generated;
	uint64_t invalid;
} EmuGen;

static void
GenInit(EmuGen *g, uint64_t seed, double invalid_rate)
{
	memset(g, 0, sizeof(*g));
	RngSeed(&g->rng, seed);
	g->invalid_rate = invalid_rate;
	for (size_t i = 0; i < sizeof(pin_profiles) / sizeof(pin_profiles[0]); i++)
		g->profile_total += pin_profiles[i].weight;
}

static const PinProfile *
GenProfile(EmuGen *g)
{
	int x = (int) RngBelow(&g->rng, (uint64_t) g->profile_total);

	for (size_t i = 0; i < sizeof(pin_profiles) / sizeof(pin_profiles[0]); i++)
	{
		if (x < pin_profiles[i].weight)
			return &pin_profiles[i];
		x -= pin_profiles[i].weight;
	}
	return &pin_profiles[0];
}

/* follower_count in its real forms: "0".."972", "1k".."991k", "1M".."15M". */
static void
GenFollowers(EmuGen *g, char *out, size_t cap)
{
	EmuRng *r = &g->rng;
	int x = (int) RngBelow(r, FOLLOWERS_PLAIN_WEIGHT + FOLLOWERS_K_WEIGHT + FOLLOWERS_M_WEIGHT);

	if (x < FOLLOWERS_PLAIN_WEIGHT)
		snprintf(out, cap, "%d", (int) RngBelow(r, 973));
	else if (x < FOLLOWERS_PLAIN_WEIGHT + FOLLOWERS_K_WEIGHT)
	{
		/* log-uniform over 1k..991k, like the real values (median ~45k) */
		int k = (int) floor(exp(RngUniform(r) * log(992.0)));

		snprintf(out, cap, "%dk", k < 1 ? 1 : (k > 991 ? 991 : k));
	}
	else
	{
		int total = 0, y;

		for (size_t i = 0; i < sizeof(followers_millions) / sizeof(followers_millions[0]); i++)
			total += followers_millions_weight[i];
		y = (int) RngBelow(r, (uint64_t) total);
		for (size_t i = 0; i < sizeof(followers_millions) / sizeof(followers_millions[0]); i++)
		{
			if (y < followers_millions_weight[i])
			{
				snprintf(out, cap, "%dM", followers_millions[i]);
				return;
			}
			y -= followers_millions_weight[i];
		}
		snprintf(out, cap, "1M");
	}
}

static void
GenTitle(EmuGen *g, const CategoryWords *c, EmuBuf *t)
{
	EmuRng *r = &g->rng;

	switch (RngBelow(r, 6))
	{
		case 0:
			BufPrintf(t, "%d %s %s %s", (int) (5 + RngBelow(r, 60)), PICK(r, adjectives), PICK(r, c->nouns), PICK(r, endings));
			break;
		case 1:
			BufPrintf(t, "%s %s %s", PICK(r, adjectives), PICK(r, c->nouns), PICK(r, endings));
			break;
		case 2:
			BufPrintf(t, "%s %s - %s", PICK(r, adjectives), PICK(r, c->nouns), PICK(r, c->brands));
			break;
		case 3:
			{
				const char *e = PICK(r, title_emoji);
				size_t start = t->len;

				BufPrintf(t, "%s%s %s %s", e, PICK(r, adjectives), PICK(r, c->nouns), e);
				for (size_t i = start; i < t->len; i++)
					if (t->data[i] >= 'A' && t->data[i] <= 'Z')
						t->data[i] += 'a' - 'A';
				break;
			}
		case 4:
			BufPrintf(t, "%s | %s", PICK(r, c->nouns), PICK(r, c->brands));
			break;
		default:
			BufPrintf(t, "The %s %s Everyone Is Talking About", PICK(r, adjectives), PICK(r, c->nouns));
			break;
	}
	if (RngUniform(r) < TITLE_NEWLINE_RATE)
		BufPrintf(t, "\n%s", PICK(r, c->nouns));
}

/* A real-looking description; some end cut off with "…\u00a0" as Pinterest truncates them. */
static void
GenDescription(EmuGen *g, const CategoryWords *c, EmuBuf *d)
{
	EmuRng *r = &g->rng;
	bool truncated = RngUniform(r) < TRUNCATED_DESCRIPTION_RATE;
	size_t target = truncated ? 200 : 40 + RngBelow(r, 135);

	while (d->len < target)
	{
		if (d->len > 0)
			BufPut(d, " ", 1);
		BufPrintf(d, "%s %s %s %s.", PICK(r, sentence_openers), PICK(r, adjectives),
				  PICK(r, c->nouns), PICK(r, sentence_closers));
		d->data[d->len - 1] = RngBelow(r, 4) == 0 ? '!' : '.';
	}
	if (truncated)
	{
		/* cut at the last space before ~175 bytes, never inside a UTF-8 sequence */
		size_t cut = 170 + RngBelow(r, 6);

		while (cut > 0 && d->data[cut] != ' ')
			cut--;
		/* Pinterest cuts mid-sentence: "…" never follows a full stop */
		while (cut > 0 && (d->data[cut - 1] == '.' || d->data[cut - 1] == '!'))
			cut--;
		d->len = cut;
		BufPuts(d, ELLIPSIS_NBSP);
	}
}

static void
GenPosterName(EmuGen *g, const CategoryWords *c, EmuBuf *p)
{
	EmuRng *r = &g->rng;

	switch (RngBelow(r, 3))
	{
		case 0:
			BufPuts(p, PICK(r, c->brands));
			break;
		case 1:
			BufPrintf(p, "%s %s", PICK(r, first_names), PICK(r, last_names));
			break;
		default:
			BufPrintf(p, "%s %s", PICK(r, adjectives), PICK(r, c->nouns));
			break;
	}
}

/* Nine tags (as in 98% of real pins), Title Case, comma-separated without spaces. */
static void
GenTags(EmuGen *g, const CategoryWords *c, EmuBuf *t)
{
	EmuRng *r = &g->rng;

	for (int i = 0; i < 9; i++)
	{
		if (i > 0)
			BufPut(t, ",", 1);
		switch (RngBelow(r, 3))
		{
			case 0:
				BufPuts(t, PICK(r, c->nouns));
				break;
			case 1:
				BufPrintf(t, "%s %s", PICK(r, adjectives), PICK(r, c->nouns));
				break;
			default:
				BufPrintf(t, "%s %s", PICK(r, c->nouns), PICK(r, endings));
				break;
		}
	}
}

static void
GenHex(EmuGen *g, char *out, int n)
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < n; i++)
		out[i] = hex[RngBelow(&g->rng, 16)];
	out[n] = '\0';
}

/* A version-4 UUID from the generator (fresh per pin, reproducible under --seed). */
static void
GenUuid(EmuGen *g, char out[37])
{
	uint8_t b[16];
	uint64_t hi = RngNext(&g->rng), lo = RngNext(&g->rng);

	memcpy(b, &hi, 8);
	memcpy(b + 8, &lo, 8);
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
			 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
			 b[13], b[14], b[15]);
}

/* Append one generated pin as a JSON object (field order of the real records). */
static void
GenPin(EmuGen *g, EmuBuf *out, bool *invalid_out)
{
	EmuRng *r = &g->rng;
	const PinProfile *p = GenProfile(g);
	const CategoryWords *c = &categories[RngBelow(r, NCATEGORIES)];
	static EmuBuf tmp;
	char uuid[37], followers[32], hex[33];
	bool invalid = g->invalid_rate > 0 && RngUniform(r) < g->invalid_rate;
	InvalidKind kind = invalid ? (InvalidKind) RngBelow(r, INVALID_NKINDS) : INVALID_NKINDS;

	g->generated++;
	if (invalid)
		g->invalid++;
	*invalid_out = invalid;

	/* the reference emulator posts a random row of the 11k-row source table */
	if (kind == INVALID_INDEX_NOT_INT)
		BufPuts(out, "{\"index\":\"abc\"");
	else
		BufPrintf(out, "{\"index\":%d", (int) (1 + RngBelow(r, 11100)));

	GenUuid(g, uuid);
	if (kind == INVALID_BAD_UUID)
		BufPrintf(out, ",\"unique_id\":\"not-a-uuid-%.8s\"", uuid);
	else if (kind != INVALID_MISSING_UUID)
		BufPrintf(out, ",\"unique_id\":\"%s\"", uuid);

	BufPuts(out, ",\"title\":");
	if (kind == INVALID_TITLE_OBJECT)
		BufPuts(out, "{\"text\":1}");
	else if (p->title == 't')
		BufPuts(out, "\"" PH_TITLE "\"");
	else if (p->title == 'e')
		BufPuts(out, "\"\"");
	else
	{
		tmp.len = 0;
		GenTitle(g, c, &tmp);
		BufPutJsonString(out, tmp.data, tmp.len);
	}

	BufPuts(out, ",\"description\":");
	if (p->description == 'S')
		BufPuts(out, "\"" PH_STORY "\"");
	else if (p->description == 'D')
		BufPuts(out, "\"" PH_DESCRIPTION "\"");
	else
	{
		tmp.len = 0;
		GenDescription(g, c, &tmp);
		BufPutJsonString(out, tmp.data, tmp.len);
	}

	if (p->poster == 'P')
		BufPuts(out, ",\"poster_name\":\"" PH_POSTER "\"");
	else if (p->poster == '-')
	{
		tmp.len = 0;
		GenPosterName(g, c, &tmp);
		BufPuts(out, ",\"poster_name\":");
		BufPutJsonString(out, tmp.data, tmp.len);
	}

	if (p->follower_error)
		BufPuts(out, ",\"follower_count\":\"" PH_FOLLOWERS "\"");
	else
	{
		GenFollowers(g, followers, sizeof(followers));
		BufPrintf(out, ",\"follower_count\":\"%s\"", followers);
	}

	BufPuts(out, ",\"tag_list\":");
	if (p->tags_error)
		BufPuts(out, "\"" PH_TAGS "\"");
	else
	{
		tmp.len = 0;
		GenTags(g, c, &tmp);
		BufPutJsonString(out, tmp.data, tmp.len);
	}

	BufPrintf(out, ",\"is_image_or_video\":\"%s\"", p->media);
	if (p->image_error)
		BufPuts(out, ",\"image_src\":\"" PH_IMAGE "\"");
	else
	{
		GenHex(g, hex, 32);
		BufPrintf(out, ",\"image_src\":\"https://i.pinimg.com/%s/%.2s/%.2s/%.2s/%s%s\"",
				  strcmp(p->media, MEDIA_IMAGE) == 0 ? "originals" : "videos/thumbnails/originals",
				  hex, hex + 2, hex + 4, hex,
				  strcmp(p->media, MEDIA_IMAGE) == 0 ? ".jpg" : ".0000001.jpg");
	}
	if (kind == INVALID_DOWNLOADED_LIST)
		BufPuts(out, ",\"downloaded\":[1]");
	else
		BufPrintf(out, ",\"downloaded\":%d", p->image_error ? 0 : 1);
	BufPrintf(out, ",\"save_location\":\"Local save in /data/%s\",\"category\":\"%s\"}", c->name, c->name);
}

/* ---------------------------------------------------------------- pin source */

typedef struct EmuSource
{
	EmuGen gen;
	/* replay */
	char *file;
	size_t file_len;
	size_t *line_off;
	size_t *line_len;
	size_t nlines;
	size_t next_line;
	bool loop;
} EmuSource;

static void
SourceLoadReplay(EmuSource *s, const char *path)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	EmuBuf b = {0};
	char chunk[65536];
	size_t n, cap = 0;

	if (f == NULL)
		Die("cannot open %s: %s", path, strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		BufPut(&b, chunk, n);
	if (ferror(f))
		Die("cannot read %s: %s", path, strerror(errno));
	if (f != stdin)
		fclose(f);
	s->file = b.data;
	s->file_len = b.len;
	for (size_t pos = 0; pos < s->file_len;)
	{
		char *nl = memchr(s->file + pos, '\n', s->file_len - pos);
		size_t end = nl ? (size_t) (nl - s->file) : s->file_len;
		size_t len = end - pos;

		while (len > 0 && (s->file[pos + len - 1] == '\r' || s->file[pos + len - 1] == ' '))
			len--;
		if (len > 0)
		{
			if (s->nlines == cap)
			{
				cap = cap ? cap * 2 : 1024;
				s->line_off = realloc(s->line_off, cap * sizeof(size_t));
				s->line_len = realloc(s->line_len, cap * sizeof(size_t));
				if (!s->line_off || !s->line_len)
					Die("out of memory");
			}
			s->line_off[s->nlines] = pos;
			s->line_len[s->nlines] = len;
			s->nlines++;
		}
		pos = end + 1;
	}
	if (s->nlines == 0)
		Die("%s holds no records", path);
}

/* Append the next pin to out; false when a non-looping replay has run out. */
static bool
SourceNext(EmuSource *s, EmuBuf *out, bool *invalid)
{
	*invalid = false;
	if (s->file == NULL)
	{
		GenPin(&s->gen, out, invalid);
		return true;
	}
	if (s->next_line == s->nlines)
	{
		if (!s->loop)
			return false;
		s->next_line = 0;
	}
	BufPut(out, s->file + s->line_off[s->next_line], s->line_len[s->next_line]);
	s->next_line++;
	return true;
}

/* ---------------------------------------------------------------- latency histogram */

/*
 * Log-linear buckets over microseconds: values below 64 exactly, then 32 buckets per
 * power of two (relative error under 1/32 of the value, reported at the midpoint).
 */
#define HIST_SUB 32
#define HIST_BUCKETS (64 + 40 * HIST_SUB)

typedef struct EmuHist
{
	uint64_t count[HIST_BUCKETS];
	uint64_t total;
	uint64_t max_us;
	double sum_us;
} EmuHist;

static int
HistIndex(uint64_t v)
{
	if (v < 64)
		return (int) v;
	int msb = 63 - __builtin_clzll(v);	/* >= 6 */
	int shift = msb - 5;				/* keeps 6 significant bits: top in [32, 63] */
	int top = (int) (v >> shift);
	int idx = 64 + (shift - 1) * HIST_SUB + (top - HIST_SUB);

	return idx < HIST_BUCKETS ? idx : HIST_BUCKETS - 1;
}

/* Midpoint of a bucket, in microseconds. */
static double
HistValue(int idx)
{
	if (idx < 64)
		return idx;
	int shift = (idx - 64) / HIST_SUB + 1;
	int top = (idx - 64) % HIST_SUB + HIST_SUB;

	return (double) ((uint64_t) top << shift) + (double) (1ULL << shift) / 2.0;
}

static void
HistRecord(EmuHist *h, double seconds)
{
	uint64_t us = seconds <= 0 ? 0 : (uint64_t) (seconds * 1e6);

	h->count[HistIndex(us)]++;
	h->total++;
	h->sum_us += (double) us;
	if (us > h->max_us)
		h->max_us = us;
}

/* The q-quantile (0 < q <= 1) in milliseconds; 0 when nothing was recorded. */
static double
HistQuantileMs(const EmuHist *h, double q)
{
	uint64_t rank, seen = 0;

	if (h->total == 0)
		return 0;
	rank = (uint64_t) ceil(q * (double) h->total);
	if (rank < 1)
		rank = 1;
	for (int i = 0; i < HIST_BUCKETS; i++)
	{
		seen += h->count[i];
		if (seen >= rank)
		{
			double v = HistValue(i);

			return (v > (double) h->max_us ? (double) h->max_us : v) / 1000.0;
		}
	}
	return (double) h->max_us / 1000.0;
}

/* ---------------------------------------------------------------- options */

typedef struct EmuOptions
{
	const char *url;
	bool url_given;
	double rate; /* pins per second; 0 = unlimited */
	int concurrency;
	double duration;
	uint64_t count;
	int batch;
	bool ndjson;
	const char *token;
	const char *replay;
	bool loop;
	double invalid_rate;
	bool print;
	bool json;
	bool progress;
	bool seed_given;
	uint64_t seed;
	double timeout;
	int retries;
	bool quiet;
} EmuOptions;

static void
Usage(FILE *f)
{
	fputs(
		"NAME\n"
		"    pinpipe-emulate - post realistic Pinterest pins to pinpipe and measure the answers\n"
		"\n"
		"SYNOPSIS\n"
		"    pinpipe-emulate [--url URL] [--rate PINS_PER_S] [--concurrency N]\n"
		"                    [--count N | --duration SECONDS] [--batch N [--ndjson]]\n"
		"                    [--replay FILE [--loop]] [--invalid-rate P] [--token TOKEN]\n"
		"                    [--seed N] [--timeout SECONDS] [--retries N]\n"
		"                    [--progress] [--json] [--quiet]\n"
		"    pinpipe-emulate --print [--count N] [--seed N] [--invalid-rate P] [--replay FILE]\n"
		"\n"
		"DESCRIPTION\n"
		"    The user-posting emulator of the reference Pinterest pipeline, done properly.\n"
		"    Generates pins with the formats and placeholder rates of the real data set\n"
		"    (follower_count \"0\"..\"972\", \"1k\"..\"991k\", \"1M\"..\"15M\" or \"User Info Error\";\n"
		"    tag_list \"N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e\"; \"No Title Data Available\";\n"
		"    \"No description available[ Story format]\"; descriptions cut with \"...\\u00a0\";\n"
		"    \"Image src error.\" exactly when downloaded = 0; save_location\n"
		"    \"Local save in /data/<category>\" over the 13 categories; image, video and\n"
		"    story-page media; a fresh random UUID per pin), in the combinations the real\n"
		"    data has them, or replays a JSONL file. Posts them with HTTP/1.1 keep-alive\n"
		"    connections driven by one thread, on an open-loop schedule, and reports what\n"
		"    the server answered.\n"
		"\n"
		"    A pin answered 2xx counts as accepted, 4xx as rejected, anything else (5xx,\n"
		"    connection failure, timeout) as an error. With --batch, a 2xx answer's JSON\n"
		"    body is read for \"accepted\" and \"rejected\" counts; a pin is counted once.\n"
		"\n"
		"OPTIONS\n"
		"    -u, --url URL          endpoint (default " EMU_DEFAULT_URL "). With --batch and\n"
		"                           no --url, the default becomes .../pins; a --url ending in\n"
		"                           /pin/ or /pin is changed to /pins as well.\n"
		"    -r, --rate R           target pins per second over all connections; 0 (default)\n"
		"                           sends as fast as the connections allow. Requests are due\n"
		"                           at fixed times; a late request is sent as soon as a\n"
		"                           connection is free (the report shows the achieved rate).\n"
		"    -c, --concurrency N    connections, i.e. requests in flight (default 8).\n"
		"    -n, --count N          stop after N pins (default: no limit).\n"
		"    -d, --duration S       stop sending after S seconds (fractions allowed).\n"
		"                           Without --count and --duration it runs until SIGINT\n"
		"                           (Ctrl-C: finish in-flight requests and report; twice: quit).\n"
		"    -b, --batch N          N pins per request to POST /pins (default 1: POST /pin/).\n"
		"        --ndjson           send batches as NDJSON instead of a JSON array.\n"
		"        --replay FILE      send the records of a JSONL file (one pin per line, sent\n"
		"                           as is; - for stdin) instead of generating pins.\n"
		"        --loop             with --replay, start over at the end of the file.\n"
		"        --invalid-rate P   fraction (0..1) of generated pins made invalid on purpose\n"
		"                           (missing unique_id, bad UUID, non-integer index, list for\n"
		"                           downloaded, object for title): the server must reject\n"
		"                           them with 422. The report shows how many were sent.\n"
		"    -t, --token TOKEN      send Authorization: Bearer TOKEN.\n"
		"    -s, --seed N           seed of the generator: the same seed gives the same pins.\n"
		"        --timeout S        per-request timeout in seconds (default 30).\n"
		"        --retries N        resend a request answered 503 or failed in transport up to\n"
		"                           N times, after its Retry-After (default 0: count an error).\n"
		"    -p, --print, --dry-run write the pins as JSONL to stdout; no network.\n"
		"        --progress         one status line per second on stderr.\n"
		"        --json             the final report as one JSON object on stdout.\n"
		"    -q, --quiet            no report text on stderr (errors still go there).\n"
		"    -h, --help             this manual.\n"
		"\n"
		"OUTPUT\n"
		"    The report (stderr, or stdout with --json) gives pins sent, accepted, rejected,\n"
		"    errors, requests by status class, the achieved rate in pins/s and requests/s, and\n"
		"    request latency p50/p95/p99/max in milliseconds (per request, measured from the\n"
		"    moment it is handed to the connection to the last byte of the answer; log-linear\n"
		"    buckets, accurate to 3%). --json keys: url, sent, accepted, rejected, errors,\n"
		"    invalid_sent, requests, status_2xx, status_4xx, status_5xx, transport_errors,\n"
		"    retries, unparsed_batches, elapsed_s, rate_pins_s, rate_requests_s,\n"
		"    latency_p50_ms, latency_p95_ms, latency_p99_ms, latency_max_ms,\n"
		"    latency_mean_ms, first_failure.\n"
		"\n"
		"EXIT STATUS\n"
		"    0 when at least one pin was accepted (or --print wrote its pins), 1 when none\n"
		"    was, 2 on a usage error.\n"
		"\n"
		"EXAMPLES\n"
		"    pinpipe-emulate --count 10000 --concurrency 16\n"
		"    pinpipe-emulate --rate 500 --duration 60 --progress --invalid-rate 0.01\n"
		"    pinpipe-emulate --batch 500 --count 1000000 --json | jq .rate_pins_s\n"
		"    pinpipe-emulate --print --count 20000 --seed 1 > pins.jsonl\n"
		"    pinpipe-emulate --replay pins.jsonl --url http://db:8000/pin/ --token s3cret\n",
		f);
}

static double
ParseDouble(const char *opt, const char *s, double min, double max)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end != '\0' || !(v >= min && v <= max))
		Die("invalid value for %s: \"%s\" (expected a number in [%g, %g])", opt, s, min, max);
	return v;
}

static uint64_t
ParseU64(const char *opt, const char *s, uint64_t min, uint64_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (*s == '-')
		Die("invalid value for %s: \"%s\"", opt, s);
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < min || v > max)
		Die("invalid value for %s: \"%s\" (expected an integer in [%" PRIu64 ", %" PRIu64 "])",
			opt, s, min, max);
	return v;
}

enum
{
	OPT_NDJSON = 256,
	OPT_REPLAY,
	OPT_LOOP,
	OPT_INVALID_RATE,
	OPT_TIMEOUT,
	OPT_RETRIES,
	OPT_PROGRESS,
	OPT_JSON,
};

static void
ParseOptions(int argc, char **argv, EmuOptions *o)
{
	static const struct option longopts[] = {
		{"url", required_argument, NULL, 'u'},
		{"rate", required_argument, NULL, 'r'},
		{"concurrency", required_argument, NULL, 'c'},
		{"count", required_argument, NULL, 'n'},
		{"duration", required_argument, NULL, 'd'},
		{"batch", required_argument, NULL, 'b'},
		{"ndjson", no_argument, NULL, OPT_NDJSON},
		{"replay", required_argument, NULL, OPT_REPLAY},
		{"loop", no_argument, NULL, OPT_LOOP},
		{"invalid-rate", required_argument, NULL, OPT_INVALID_RATE},
		{"token", required_argument, NULL, 't'},
		{"seed", required_argument, NULL, 's'},
		{"timeout", required_argument, NULL, OPT_TIMEOUT},
		{"retries", required_argument, NULL, OPT_RETRIES},
		{"print", no_argument, NULL, 'p'},
		{"dry-run", no_argument, NULL, 'p'},
		{"progress", no_argument, NULL, OPT_PROGRESS},
		{"json", no_argument, NULL, OPT_JSON},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	int ch;

	memset(o, 0, sizeof(*o));
	o->url = EMU_DEFAULT_URL;
	o->concurrency = 8;
	o->batch = 1;
	o->timeout = 30;

	while ((ch = getopt_long(argc, argv, "u:r:c:n:d:b:t:s:pqh", longopts, NULL)) != -1)
	{
		switch (ch)
		{
			case 'u':
				o->url = optarg;
				o->url_given = true;
				break;
			case 'r':
				o->rate = ParseDouble("--rate", optarg, 0, 1e9);
				break;
			case 'c':
				o->concurrency = (int) ParseU64("--concurrency", optarg, 1, 10000);
				break;
			case 'n':
				o->count = ParseU64("--count", optarg, 1, UINT64_MAX / 2);
				break;
			case 'd':
				o->duration = ParseDouble("--duration", optarg, 0.001, 1e9);
				break;
			case 'b':
				o->batch = (int) ParseU64("--batch", optarg, 1, 1000000);
				break;
			case OPT_NDJSON:
				o->ndjson = true;
				break;
			case OPT_REPLAY:
				o->replay = optarg;
				break;
			case OPT_LOOP:
				o->loop = true;
				break;
			case OPT_INVALID_RATE:
				o->invalid_rate = ParseDouble("--invalid-rate", optarg, 0, 1);
				break;
			case 't':
				o->token = optarg;
				break;
			case 's':
				o->seed = ParseU64("--seed", optarg, 0, UINT64_MAX);
				o->seed_given = true;
				break;
			case OPT_TIMEOUT:
				o->timeout = ParseDouble("--timeout", optarg, 0.001, 86400);
				break;
			case OPT_RETRIES:
				o->retries = (int) ParseU64("--retries", optarg, 0, 1000);
				break;
			case 'p':
				o->print = true;
				break;
			case OPT_PROGRESS:
				o->progress = true;
				break;
			case OPT_JSON:
				o->json = true;
				break;
			case 'q':
				o->quiet = true;
				break;
			case 'h':
				Usage(stdout);
				exit(0);
			default:
				fputs("Try 'pinpipe-emulate --help'.\n", stderr);
				exit(2);
		}
	}
	if (optind < argc)
		Die("unexpected argument \"%s\" (try --help)", argv[optind]);
	if (o->loop && !o->replay)
		Die("--loop needs --replay");
	if (o->replay && o->invalid_rate > 0)
		Die("--invalid-rate applies to generated pins, not to --replay");
	if (o->ndjson && o->batch == 1)
		Die("--ndjson needs --batch");
}

/* The URL of the batch endpoint: /pin/ or /pin at the end becomes /pins. */
static char *
BatchUrl(const char *url, bool given)
{
	size_t n = strlen(url);
	char *out = malloc(n + 8);

	if (out == NULL)
		Die("out of memory");
	strcpy(out, url);
	if (n >= 5 && strcmp(out + n - 5, "/pin/") == 0)
		strcpy(out + n - 5, "/pins");
	else if (n >= 4 && strcmp(out + n - 4, "/pin") == 0)
		strcpy(out + n - 4, "/pins");
	else if (!given)
		Die("cannot derive the /pins URL from %s", url);
	return out;
}

/* ---------------------------------------------------------------- print mode */

static int
RunPrint(const EmuOptions *o, EmuSource *src)
{
	EmuBuf b = {0};
	bool invalid;
	uint64_t n = 0;

	while (o->count == 0 || n < o->count)
	{
		b.len = 0;
		if (!SourceNext(src, &b, &invalid))
			break;
		BufPut(&b, "\n", 1);
		if (fwrite(b.data, 1, b.len, stdout) != b.len)
			Die("write error: %s", strerror(errno));
		n++;
	}
	if (fflush(stdout) != 0)
		Die("write error: %s", strerror(errno));
	return n > 0 ? 0 : 1;
}

/* ---------------------------------------------------------------- network mode */

typedef struct EmuSlot
{
	CURL *easy;
	EmuBuf body;
	EmuBuf resp;
	int npins;
	int ninvalid;
	int attempts;
	bool busy;		 /* owned by the multi handle, or waiting for a retry */
	bool in_multi;
	double started; /* when handed to the multi handle */
	double retry_at;	/* > 0: resend at this time */
	double retry_after; /* the answer's Retry-After in seconds, -1 if none */
	char errbuf[CURL_ERROR_SIZE];
} EmuSlot;

typedef struct EmuStats
{
	uint64_t sent; /* pins whose request got a final answer or failed for good */
	uint64_t accepted;
	uint64_t rejected;
	uint64_t errors;
	uint64_t invalid_sent;
	uint64_t requests; /* attempts answered or failed */
	uint64_t s2xx, s4xx, s5xx, transport;
	uint64_t retries;
	uint64_t unparsed;
	EmuHist hist;
	char first_failure[EMU_MAX_SAMPLE + 64];
} EmuStats;

static volatile sig_atomic_t emu_interrupts = 0;

static void
OnSignal(int sig)
{
	(void) sig;
	emu_interrupts++;
	if (emu_interrupts >= 2)
		_exit(130);
}

static size_t
OnResponseData(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	EmuSlot *s = userdata;
	size_t n = size * nmemb;

	if (s->resp.len < EMU_MAX_RESPONSE)
		BufPut(&s->resp, ptr, n < EMU_MAX_RESPONSE - s->resp.len ? n : EMU_MAX_RESPONSE - s->resp.len);
	return n;
}

/* Remember Retry-After (delay-seconds; an HTTP-date counts as one second). */
static size_t
OnResponseHeader(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	EmuSlot *s = userdata;
	size_t n = size * nmemb;
	static const char name[] = "retry-after:";

	if (n > sizeof(name) - 1 && strncasecmp(ptr, name, sizeof(name) - 1) == 0)
	{
		char val[64];
		size_t vlen = n - (sizeof(name) - 1);
		char *end;
		double v;

		if (vlen >= sizeof(val))
			vlen = sizeof(val) - 1;
		memcpy(val, ptr + sizeof(name) - 1, vlen);
		val[vlen] = '\0';
		v = strtod(val, &end);
		s->retry_after = (end != val && v >= 0 && v < 3600) ? v : 1.0;
	}
	return n;
}

/* Find "key": <integer> in a JSON text; -1 when absent. Enough for the /pins summary. */
static long long
JsonFindCount(const char *json, size_t len, const char *key)
{
	size_t klen = strlen(key);

	for (const char *p = json; p && p + klen + 2 <= json + len;
		 p = memchr(p + 1, '"', (size_t) (json + len - p - 1)))
	{
		if (*p != '"' || (size_t) (json + len - p) < klen + 2 || memcmp(p + 1, key, klen) != 0 ||
			p[klen + 1] != '"')
			continue;
		const char *q = p + klen + 2;

		while (q < json + len && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'))
			q++;
		if (q >= json + len || *q != ':')
			continue;
		q++;
		while (q < json + len && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'))
			q++;
		if (q < json + len && *q >= '0' && *q <= '9')
		{
			long long v = 0;

			while (q < json + len && *q >= '0' && *q <= '9')
				v = v * 10 + (*q++ - '0');
			return v;
		}
	}
	return -1;
}

static void
NoteFailure(EmuStats *st, const char *what, const char *body, size_t len)
{
	if (st->first_failure[0] != '\0')
		return;
	if (len > EMU_MAX_SAMPLE)
		len = EMU_MAX_SAMPLE;
	snprintf(st->first_failure, sizeof(st->first_failure), "%s%s%.*s", what, len ? ": " : "",
			 (int) len, body ? body : "");
	for (char *c = st->first_failure; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
}

/* Fill a free slot with the next request; false if the source had nothing left. */
static bool
SlotPrepare(EmuSlot *s, const EmuOptions *o, EmuSource *src, uint64_t limit)
{
	bool invalid;
	int n = 0, want = o->batch;

	if (limit > 0 && (uint64_t) want > limit)
		want = (int) limit;
	s->body.len = 0;
	s->ninvalid = 0;
	if (o->batch > 1 && !o->ndjson)
		BufPut(&s->body, "[", 1);
	for (; n < want; n++)
	{
		size_t before = s->body.len;

		if (n > 0)
			BufPut(&s->body, o->ndjson ? "\n" : ",", 1);
		if (!SourceNext(src, &s->body, &invalid))
		{
			s->body.len = before;
			break;
		}
		s->ninvalid += invalid;
	}
	if (n == 0)
		return false;
	if (o->batch > 1 && !o->ndjson)
		BufPut(&s->body, "]", 1);
	else if (o->ndjson)
		BufPut(&s->body, "\n", 1);
	s->npins = n;
	s->attempts = 0;
	return true;
}

static void
SlotStart(EmuSlot *s, CURLM *multi, double now)
{
	CURLMcode mc;

	s->resp.len = 0;
	s->errbuf[0] = '\0';
	s->retry_after = -1;
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, s->body.data);
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) s->body.len);
	s->started = now;
	s->retry_at = 0;
	s->attempts++;
	s->busy = true;
	s->in_multi = true;
	mc = curl_multi_add_handle(multi, s->easy);
	if (mc != CURLM_OK)
		Die("curl_multi_add_handle: %s", curl_multi_strerror(mc));
}

/* Account for a finished attempt; returns true if the slot is free again. */
static bool
SlotFinish(EmuSlot *s, CURLcode result, const EmuOptions *o, EmuStats *st, double now)
{
	long code = 0;
	bool retryable;

	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
	HistRecord(&st->hist, now - s->started);
	st->requests++;
	if (result != CURLE_OK)
		st->transport++;
	else if (code >= 200 && code < 300)
		st->s2xx++;
	else if (code >= 400 && code < 500)
		st->s4xx++;
	else
		st->s5xx++;

	retryable = result != CURLE_OK || code == 503;
	if (retryable && s->attempts <= o->retries)
	{
		/* the server's Retry-After when it sent one, else 0.1 s doubling up to 3.2 s */
		double delay = 0.1 * (1 << (s->attempts < 6 ? s->attempts - 1 : 5));

		if (result == CURLE_OK && s->retry_after >= 0)
			delay = s->retry_after;
		st->retries++;
		s->retry_at = now + delay;
		return false;
	}

	st->sent += (uint64_t) s->npins;
	st->invalid_sent += (uint64_t) s->ninvalid;
	if (result != CURLE_OK)
	{
		char what[CURL_ERROR_SIZE + 64];

		st->errors += (uint64_t) s->npins;
		snprintf(what, sizeof(what), "transport error: %s",
				 s->errbuf[0] ? s->errbuf : curl_easy_strerror(result));
		NoteFailure(st, what, NULL, 0);
	}
	else if (code >= 200 && code < 300)
	{
		if (o->batch > 1)
		{
			long long acc = JsonFindCount(s->resp.data ? s->resp.data : "", s->resp.len, "accepted");

			if (acc < 0)
			{
				st->unparsed++;
				acc = s->npins;
			}
			if (acc > s->npins)
				acc = s->npins;
			st->accepted += (uint64_t) acc;
			st->rejected += (uint64_t) (s->npins - acc);
			if (acc < s->npins)
				NoteFailure(st, "batch with rejected records", s->resp.data, s->resp.len);
		}
		else
			st->accepted += (uint64_t) s->npins;
	}
	else
	{
		char what[64];

		snprintf(what, sizeof(what), "HTTP %ld", code);
		if (code >= 400 && code < 500)
			st->rejected += (uint64_t) s->npins;
		else
			st->errors += (uint64_t) s->npins;
		NoteFailure(st, what, s->resp.data, s->resp.len);
	}
	s->busy = false;
	return true;
}

static void
PrintJsonString(FILE *f, const char *s)
{
	EmuBuf b = {0};

	BufPutJsonString(&b, s, strlen(s));
	fputs(b.data, f);
	free(b.data);
}

static void
Report(const EmuOptions *o, const char *url, const EmuStats *st, double elapsed)
{
	double rate = elapsed > 0 ? (double) st->sent / elapsed : 0;
	double rrate = elapsed > 0 ? (double) st->requests / elapsed : 0;
	const EmuHist *h = &st->hist;
	double mean = h->total ? h->sum_us / (double) h->total / 1000.0 : 0;

	if (o->json)
	{
		printf("{\"url\":");
		PrintJsonString(stdout, url);
		printf(",\"sent\":%" PRIu64 ",\"accepted\":%" PRIu64 ",\"rejected\":%" PRIu64
			   ",\"errors\":%" PRIu64 ",\"invalid_sent\":%" PRIu64 ",\"requests\":%" PRIu64
			   ",\"status_2xx\":%" PRIu64 ",\"status_4xx\":%" PRIu64 ",\"status_5xx\":%" PRIu64
			   ",\"transport_errors\":%" PRIu64 ",\"retries\":%" PRIu64 ",\"unparsed_batches\":%" PRIu64
			   ",\"elapsed_s\":%.3f,\"rate_pins_s\":%.1f,\"rate_requests_s\":%.1f"
			   ",\"latency_p50_ms\":%.3f,\"latency_p95_ms\":%.3f,\"latency_p99_ms\":%.3f"
			   ",\"latency_max_ms\":%.3f,\"latency_mean_ms\":%.3f,\"first_failure\":",
			   st->sent, st->accepted, st->rejected, st->errors, st->invalid_sent, st->requests,
			   st->s2xx, st->s4xx, st->s5xx, st->transport, st->retries, st->unparsed, elapsed,
			   rate, rrate, HistQuantileMs(h, 0.50), HistQuantileMs(h, 0.95),
			   HistQuantileMs(h, 0.99), (double) h->max_us / 1000.0, mean);
		if (st->first_failure[0])
			PrintJsonString(stdout, st->first_failure);
		else
			fputs("null", stdout);
		fputs("}\n", stdout);
		fflush(stdout);
	}
	if (o->quiet)
		return;
	fprintf(stderr,
			"pinpipe-emulate: %" PRIu64 " pins in %" PRIu64 " requests to %s in %.2f s\n"
			"  accepted  %" PRIu64 "\n"
			"  rejected  %" PRIu64 "%s",
			st->sent, st->requests, url, elapsed, st->accepted, st->rejected,
			st->invalid_sent ? "" : "\n");
	if (st->invalid_sent)
		fprintf(stderr, "  (%" PRIu64 " invalid on purpose)\n", st->invalid_sent);
	fprintf(stderr,
			"  errors    %" PRIu64 "\n"
			"  requests  2xx %" PRIu64 ", 4xx %" PRIu64 ", 5xx/other %" PRIu64
			", transport %" PRIu64 ", retries %" PRIu64 "\n"
			"  rate      %.1f pins/s, %.1f requests/s\n"
			"  latency   p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, max %.2f ms, mean %.2f ms\n",
			st->errors, st->s2xx, st->s4xx, st->s5xx, st->transport, st->retries, rate, rrate,
			HistQuantileMs(h, 0.50), HistQuantileMs(h, 0.95), HistQuantileMs(h, 0.99),
			(double) h->max_us / 1000.0, mean);
	if (st->unparsed)
		fprintf(stderr, "  warning   %" PRIu64 " batch answers had no \"accepted\" count (counted as all accepted)\n",
				st->unparsed);
	if (st->first_failure[0])
		fprintf(stderr, "  first failure: %s\n", st->first_failure);
}

static int
RunNetwork(const EmuOptions *o, EmuSource *src)
{
	const char *url = o->batch > 1 ? BatchUrl(o->url, o->url_given) : o->url;
	struct curl_slist *headers = NULL;
	char *auth = NULL;
	EmuSlot *slots;
	CURLM *multi;
	EmuStats *st;
	uint64_t issued = 0; /* pins handed to requests */
	int inflight = 0;
	double t0, t_end, next_tick, last_done;
	uint64_t tick_sent = 0;
	bool stopping = false;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		Die("curl_global_init failed");
	st = calloc(1, sizeof(*st));
	slots = calloc((size_t) o->concurrency, sizeof(*slots));
	if (!st || !slots)
		Die("out of memory");

	headers = curl_slist_append(headers, o->ndjson ? "Content-Type: application/x-ndjson"
												   : "Content-Type: application/json");
	headers = curl_slist_append(headers, "Expect:"); /* no 100-continue round trip */
	if (o->token)
	{
		size_t n = strlen(o->token) + 32;

		auth = malloc(n);
		if (auth == NULL)
			Die("out of memory");
		snprintf(auth, n, "Authorization: Bearer %s", o->token);
		headers = curl_slist_append(headers, auth);
	}

	multi = curl_multi_init();
	curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long) o->concurrency);
	curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long) o->concurrency);
	for (int i = 0; i < o->concurrency; i++)
	{
		EmuSlot *s = &slots[i];

		s->easy = curl_easy_init();
		if (s->easy == NULL)
			Die("curl_easy_init failed");
		curl_easy_setopt(s->easy, CURLOPT_URL, url);
		curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, headers);
		curl_easy_setopt(s->easy, CURLOPT_POST, 1L);
		curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, OnResponseData);
		curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
		curl_easy_setopt(s->easy, CURLOPT_HEADERFUNCTION, OnResponseHeader);
		curl_easy_setopt(s->easy, CURLOPT_HEADERDATA, s);
		curl_easy_setopt(s->easy, CURLOPT_ERRORBUFFER, s->errbuf);
		curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, (long) (o->timeout * 1000));
		curl_easy_setopt(s->easy, CURLOPT_CONNECTTIMEOUT_MS, (long) (o->timeout * 1000));
		curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(s->easy, CURLOPT_TCP_NODELAY, 1L);
		curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
		curl_easy_setopt(s->easy, CURLOPT_USERAGENT, "pinpipe-emulate/1");
	}

	signal(SIGINT, OnSignal);
	signal(SIGTERM, OnSignal);
	signal(SIGPIPE, SIG_IGN);

	t0 = NowSeconds();
	last_done = t0;
	t_end = o->duration > 0 ? t0 + o->duration : 0;
	next_tick = t0 + 1;

	for (;;)
	{
		double now = NowSeconds();
		int running = 0, pending;
		long wait_ms = 100;
		CURLMsg *msg;

		if (emu_interrupts > 0 || (t_end > 0 && now >= t_end))
			stopping = true;

		/* resend retries that are due, then start new requests that are due */
		for (int i = 0; i < o->concurrency; i++)
		{
			EmuSlot *s = &slots[i];

			if (s->busy && !s->in_multi && s->retry_at > 0)
			{
				if (now >= s->retry_at)
					SlotStart(s, multi, now);
				else if ((long) ceil((s->retry_at - now) * 1000) < wait_ms)
					wait_ms = (long) ceil((s->retry_at - now) * 1000);
			}
		}
		for (int i = 0; i < o->concurrency && !stopping; i++)
		{
			EmuSlot *s = &slots[i];

			if (s->busy)
				continue;
			if (o->rate > 0)
			{
				double due = t0 + (double) issued / o->rate;

				if (now < due)
				{
					/* round up: sleeping 0 ms would spin when requests are < 1 ms apart */
					long ms = (long) ceil((due - now) * 1000);

					if (ms < wait_ms)
						wait_ms = ms;
					break;
				}
			}
			if (o->count > 0 && issued >= o->count)
			{
				stopping = true;
				break;
			}
			if (!SlotPrepare(s, o, src, o->count ? o->count - issued : 0))
			{
				stopping = true;
				break;
			}
			issued += (uint64_t) s->npins;
			SlotStart(s, multi, now);
			inflight++;
		}
		if (stopping && inflight == 0)
			break;

		curl_multi_perform(multi, &running);
		while ((msg = curl_multi_info_read(multi, &pending)) != NULL)
		{
			EmuSlot *s = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &s);
			curl_multi_remove_handle(multi, s->easy);
			s->in_multi = false;
			now = NowSeconds();
			if (SlotFinish(s, msg->data.result, o, st, now))
			{
				inflight--;
				last_done = now;
			}
			wait_ms = 0; /* a slot may be free: go round again at once */
		}

		if (o->progress && now >= next_tick)
		{
			fprintf(stderr, "[%5.1fs] sent %" PRIu64 " (+%" PRIu64 "/s) accepted %" PRIu64
					" rejected %" PRIu64 " errors %" PRIu64 " p99 %.2f ms\n",
					now - t0, st->sent, st->sent - tick_sent, st->accepted, st->rejected,
					st->errors, HistQuantileMs(&st->hist, 0.99));
			tick_sent = st->sent;
			next_tick += 1;
		}
		if (wait_ms > 0)
		{
			if (wait_ms > 100)
				wait_ms = 100;
			/* nothing in flight: no socket to wait on, only the next due time */
			if (running == 0)
			{
				struct timespec ts = {wait_ms / 1000, (wait_ms % 1000) * 1000000L};

				nanosleep(&ts, NULL);
			}
			else
				curl_multi_poll(multi, NULL, 0, (int) wait_ms, NULL);
		}
	}

	Report(o, url, st, last_done - t0);
	for (int i = 0; i < o->concurrency; i++)
	{
		curl_easy_cleanup(slots[i].easy);
		free(slots[i].body.data);
		free(slots[i].resp.data);
	}
	curl_multi_cleanup(multi);
	curl_slist_free_all(headers);
	curl_global_cleanup();
	free(auth);
	free(slots);
	{
		int rc = st->accepted > 0 ? 0 : 1;

		free(st);
		return rc;
	}
}

int
main(int argc, char **argv)
{
	EmuOptions o;
	EmuSource src;

	ParseOptions(argc, argv, &o);
	memset(&src, 0, sizeof(src));
	if (!o.seed_given)
	{
		struct timespec ts;
		FILE *f = fopen("/dev/urandom", "rb");

		clock_gettime(CLOCK_REALTIME, &ts);
		o.seed = (uint64_t) ts.tv_nsec ^ ((uint64_t) ts.tv_sec << 20) ^ (uint64_t) getpid();
		if (f)
		{
			if (fread(&o.seed, sizeof(o.seed), 1, f) != 1)
				o.seed ^= 0x5eed;
			fclose(f);
		}
	}
	GenInit(&src.gen, o.seed, o.invalid_rate);
	if (o.replay)
	{
		SourceLoadReplay(&src, o.replay);
		src.loop = o.loop;
	}
	if (o.print)
		return RunPrint(&o, &src);
	return RunNetwork(&o, &src);
}
