/*
 * emu_gen.c — pinpipe-emulate's pin generator.
 *
 * The shape of the output is measured from the real data (../shared/data/README.md,
 * pins_sample.jsonl); test/t/45_emulate.sh compares the rates of 20,000 generated pins
 * with the real file's, field by field and through pinpipe.clean_pin().
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "emu_gen.h"

/* ---------------------------------------------------------------- PRNG */

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
	{"art",
	 {"Watercolor Painting", "Abstract Art", "Acrylic Pour", "Pencil Drawing", "Art Print",
	  "Canvas Art", "Illustration", "Sketchbook", "Collage", "Portrait", "Oil Painting",
	  "Street Art"},
	 {"Bored Panda", "Color Made Happy", "Arty Crafty Kids", "Zezè"}},
	{"beauty",
	 {"Makeup Look", "Skin Care Routine", "Nail Art", "Hair Color", "Eyeliner", "Braided Hairstyle",
	  "Lipstick", "Face Mask", "Curly Hair", "Eyebrows", "Glow Serum", "Balayage"},
	 {"Glamour", "Byrdie", "Beauty Bay", "Amélie Beauté"}},
	{"christmas",
	 {"Christmas Tree", "Holiday Wreath", "Gingerbread House", "Advent Calendar", "Stocking",
	  "Christmas Cookies", "Ornament", "Nativity Scene", "Garland", "Snow Globe",
	  "Elf On The Shelf", "Christmas Table"},
	 {"Walmart", "Country Living", "One Little Project", "Noël à la Maison"}},
	{"diy-and-crafts",
	 {"Paper Flowers", "Mason Jar", "Macrame Hanger", "Felt Gnome", "Wood Sign", "Crochet Blanket",
	  "Resin Coaster", "Pallet Shelf", "Candle", "Embroidery Hoop", "Sewing Project",
	  "Cricut Idea"},
	 {"One Little Project", "Crafty Morning", "TheUnstitchd", "Hand Made Kathé"}},
	{"education",
	 {"Classroom Management", "Reading Strategy", "Math Worksheet", "Science Experiment",
	  "Phonics Game", "Study Tip", "Lesson Plan", "Writing Prompt", "Homeschool Schedule",
	  "Teaching Idea", "Sight Words", "History Lesson"},
	 {"Teachers Pay Teachers", "We Are Teachers", "Education.com", "Maestra Señora"}},
	{"event-planning",
	 {"Wedding Decoration", "Balloon Arch", "Party Favor", "Table Centerpiece", "Baby Shower",
	  "Birthday Party", "Event Timeline", "Bridal Shower", "Backdrop", "Reception Idea",
	  "Party Theme", "Event Budget"},
	 {"Wedding Wire", "Party City", "The Knot", "Fêtes Élégantes"}},
	{"finance",
	 {"Budget Plan", "Saving Money", "Debt Payoff", "Side Hustle", "Passive Income",
	  "Dividend Stock", "Retirement Plan", "Money Tip", "Frugal Living", "Emergency Fund",
	  "Investing", "Credit Score"},
	 {"Dividends Diversify: Money Matters So Build Wealth & Be Rich", "Our Mindful Life",
	  "Making Sense of Cents", "Finanças Fáceis"}},
	{"home-decor",
	 {"Living Room", "Farmhouse Kitchen", "Boho Bedroom", "Porch Decor", "Wall Shelf",
	  "Bathroom Makeover", "Cozy Nook", "Rustic Decor", "Gallery Wall", "Entryway", "Modern Home",
	  "Plant Corner"},
	 {"Next Luxury", "Country Decor", "House Beautiful", "Maison Côté"}},
	{"mens-fashion",
	 {"Casual Outfit", "Street Style", "Leather Jacket", "Chelsea Boots", "Suit Style",
	  "Denim Look", "Summer Outfit", "Watch", "Beard Style", "Smart Casual", "Winter Coat",
	  "Sneakers"},
	 {"Mens Fashion - LIFESTYLE BY PS ", "TheTrendSpotter", "Wear24-7", "Señor Estilo"}},
	{"quotes",
	 {"Love Quote", "Life Lesson", "Motivational Quote", "Wise Word", "Friendship Quote",
	  "Self Love", "Inspirational Saying", "Deep Thought", "Positive Vibe", "Relationship Quote",
	  "Soul Poetry", "Funny Quote"},
	 {"YourTango", "The Minds Journal", "SOCIETY19", "Frases Bonitas ♡"}},
	{"tattoos",
	 {"Small Tattoo", "Fine Line Tattoo", "Sleeve Tattoo", "Floral Tattoo", "Minimalist Tattoo",
	  "Wrist Tattoo", "Script Tattoo", "Mandala Tattoo", "Geometric Tattoo", "Back Tattoo",
	  "Matching Tattoo", "Tattoo Design"},
	 {"Boop Decals", "Tattoo Ideas", "Inkstinct", "Tatuajes Únicos"}},
	{"travel",
	 {"Travel Destination", "Road Trip", "Beach Vacation", "Packing List", "Hidden Gem",
	  "City Guide", "Bucket List", "Hiking Trail", "Island Getaway", "Travel Tip", "National Park",
	  "Weekend Trip"},
	 {"HikenDip", "Lonely Planet", "Travel Off Path", "Voyage Départ"}},
	{"vehicles",
	 {"Classic Car", "Sports Car", "Motorcycle", "Camper Van", "Muscle Car", "Off Road Truck",
	  "Vintage Porsche", "Car Interior", "Custom Bike", "Jeep Build", "Race Car", "Electric Car"},
	 {"Mala Rock | Rock T-shirts", "Car and Driver", "Jacqueline MB Designs", "Motoren Müller"}},
};

#define NCATEGORIES (sizeof(categories) / sizeof(categories[0]))

static const char *const adjectives[] = {
	"Easy",		 "Simple",	   "Beautiful", "Cute",		"Modern", "Vintage",  "Amazing", "Creative",
	"Cozy",		 "Minimalist", "Rustic",	"Colorful", "Unique", "Stunning", "Cheap",	 "Best",
	"Aesthetic", "Classic",	   "Elegant",	"Fun",		"DIY",	  "Quick",	  "Small",	 "Big"};
static const char *const endings[] = {"Ideas",		   "Tips",	   "Inspiration", "Tutorial",
									  "For Beginners", "Projects", "Designs",	  "Hacks",
									  "Guide",		   "Trends"};
static const char *const first_names[] = {"Jacqueline", "Josie", "Emma",  "Liam", "Sofía",	"Chloé",
										  "Noah",		"Ava",	 "Mateo", "Zoë",  "Olivia", "Lucas",
										  "Inés",		"Björn", "Aiko",  "Priya"};
static const char *const last_names[] = {"Bergeron",  "Lewis",	  "Smith",	"García", "Martin",
										 "Nguyen",	  "Kowalski", "Müller", "Rossi",  "O'Brien",
										 "Johansson", "Patel",	  "Silva",	"Dubois"};
static const char *const title_emoji[] = {"🍂", "✨", "🎄", "💕", "🌸", "🔥", "😍", "⭐"};
static const char *const sentence_openers[] = {
	"Learn how to make", "Check out these",
	"Discover the best", "Here are some",
	"Get inspired by",	 "Looking for",
	"Try this",			 "We rounded up",
	"Our favorite",		 "Everything you need to know about"};
static const char *const sentence_closers[] = {"that you will love",
											   "for every budget",
											   "in just a few minutes",
											   "you can try today",
											   "that are perfect for beginners",
											   "the whole family will enjoy",
											   "to save for later",
											   "with free printables",
											   "that look expensive but aren’t",
											   "— step by step"};

/* ---------------------------------------------------------------- generator */

typedef enum InvalidKind
{
	INVALID_MISSING_UUID,	 /* a required field absent */
	INVALID_BAD_UUID,		 /* unique_id not a UUID */
	INVALID_INDEX_NOT_INT,	 /* "index": "abc" */
	INVALID_DOWNLOADED_LIST, /* "downloaded": [1] */
	INVALID_TITLE_OBJECT,	 /* "title": {"…": 1} */
	INVALID_NKINDS
} InvalidKind;

void
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
GenTitle(EmuGen *g, const CategoryWords *c, StrBuf *t)
{
	EmuRng *r = &g->rng;

	switch (RngBelow(r, 6))
	{
		case 0:
			StrBufPrintf(t, "%d %s %s %s", (int) (5 + RngBelow(r, 60)), PICK(r, adjectives),
						 PICK(r, c->nouns), PICK(r, endings));
			break;
		case 1:
			StrBufPrintf(t, "%s %s %s", PICK(r, adjectives), PICK(r, c->nouns), PICK(r, endings));
			break;
		case 2:
			StrBufPrintf(t, "%s %s - %s", PICK(r, adjectives), PICK(r, c->nouns),
						 PICK(r, c->brands));
			break;
		case 3:
		{
			const char *e = PICK(r, title_emoji);
			size_t start = t->len;

			StrBufPrintf(t, "%s%s %s %s", e, PICK(r, adjectives), PICK(r, c->nouns), e);
			for (size_t i = start; i < t->len; i++)
				if (t->data[i] >= 'A' && t->data[i] <= 'Z')
					t->data[i] += 'a' - 'A';
			break;
		}
		case 4:
			StrBufPrintf(t, "%s | %s", PICK(r, c->nouns), PICK(r, c->brands));
			break;
		default:
			StrBufPrintf(t, "The %s %s Everyone Is Talking About", PICK(r, adjectives),
						 PICK(r, c->nouns));
			break;
	}
	if (RngUniform(r) < TITLE_NEWLINE_RATE)
		StrBufPrintf(t, "\n%s", PICK(r, c->nouns));
}

/* A real-looking description; some end cut off with "…\u00a0" as Pinterest truncates them. */
static void
GenDescription(EmuGen *g, const CategoryWords *c, StrBuf *d)
{
	EmuRng *r = &g->rng;
	bool truncated = RngUniform(r) < TRUNCATED_DESCRIPTION_RATE;
	size_t target = truncated ? 200 : 40 + RngBelow(r, 135);

	while (d->len < target)
	{
		if (d->len > 0)
			StrBufAppend(d, " ", 1);
		StrBufPrintf(d, "%s %s %s %s.", PICK(r, sentence_openers), PICK(r, adjectives),
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
		StrBufPuts(d, ELLIPSIS_NBSP);
	}
}

static void
GenPosterName(EmuGen *g, const CategoryWords *c, StrBuf *p)
{
	EmuRng *r = &g->rng;

	switch (RngBelow(r, 3))
	{
		case 0:
			StrBufPuts(p, PICK(r, c->brands));
			break;
		case 1:
			StrBufPrintf(p, "%s %s", PICK(r, first_names), PICK(r, last_names));
			break;
		default:
			StrBufPrintf(p, "%s %s", PICK(r, adjectives), PICK(r, c->nouns));
			break;
	}
}

/* Nine tags (as in 98% of real pins), Title Case, comma-separated without spaces. */
static void
GenTags(EmuGen *g, const CategoryWords *c, StrBuf *t)
{
	EmuRng *r = &g->rng;

	for (int i = 0; i < 9; i++)
	{
		if (i > 0)
			StrBufAppend(t, ",", 1);
		switch (RngBelow(r, 3))
		{
			case 0:
				StrBufPuts(t, PICK(r, c->nouns));
				break;
			case 1:
				StrBufPrintf(t, "%s %s", PICK(r, adjectives), PICK(r, c->nouns));
				break;
			default:
				StrBufPrintf(t, "%s %s", PICK(r, c->nouns), PICK(r, endings));
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
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
			 b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
			 b[14], b[15]);
}

/* Append the scratch text as a JSON string; a failure of the scratch buffer is the output's. */
static void
GenPutJson(StrBuf *out, const StrBuf *tmp)
{
	if (tmp->oom)
		out->oom = true;
	else
		StrBufJsonString(out, tmp->data, tmp->len);
}

/* Append one generated pin as a JSON object (field order of the real records). */
void
GenPin(EmuGen *g, StrBuf *out, bool *invalid_out, int *index_out)
{
	EmuRng *r = &g->rng;
	const PinProfile *p = GenProfile(g);
	const CategoryWords *c = &categories[RngBelow(r, NCATEGORIES)];
	static StrBuf tmp;
	char uuid[37], followers[32], hex[33];
	bool invalid = g->invalid_rate > 0 && RngUniform(r) < g->invalid_rate;
	InvalidKind kind = invalid ? (InvalidKind) RngBelow(r, INVALID_NKINDS) : INVALID_NKINDS;

	g->generated++;
	if (invalid)
		g->invalid++;
	*invalid_out = invalid;

	/* the reference emulator posts a random row of the 11k-row source table */
	*index_out = (int) (1 + RngBelow(r, 11100));
	if (kind == INVALID_INDEX_NOT_INT)
		StrBufPuts(out, "{\"index\":\"abc\"");
	else
		StrBufPrintf(out, "{\"index\":%d", *index_out);

	GenUuid(g, uuid);
	if (kind == INVALID_BAD_UUID)
		StrBufPrintf(out, ",\"unique_id\":\"not-a-uuid-%.8s\"", uuid);
	else if (kind != INVALID_MISSING_UUID)
		StrBufPrintf(out, ",\"unique_id\":\"%s\"", uuid);

	StrBufPuts(out, ",\"title\":");
	if (kind == INVALID_TITLE_OBJECT)
		StrBufPuts(out, "{\"text\":1}");
	else if (p->title == 't')
		StrBufPuts(out, "\"" PH_TITLE "\"");
	else if (p->title == 'e')
		StrBufPuts(out, "\"\"");
	else
	{
		StrBufReset(&tmp);
		GenTitle(g, c, &tmp);
		GenPutJson(out, &tmp);
	}

	StrBufPuts(out, ",\"description\":");
	if (p->description == 'S')
		StrBufPuts(out, "\"" PH_STORY "\"");
	else if (p->description == 'D')
		StrBufPuts(out, "\"" PH_DESCRIPTION "\"");
	else
	{
		StrBufReset(&tmp);
		GenDescription(g, c, &tmp);
		GenPutJson(out, &tmp);
	}

	if (p->poster == 'P')
		StrBufPuts(out, ",\"poster_name\":\"" PH_POSTER "\"");
	else if (p->poster == '-')
	{
		StrBufReset(&tmp);
		GenPosterName(g, c, &tmp);
		StrBufPuts(out, ",\"poster_name\":");
		GenPutJson(out, &tmp);
	}

	if (p->follower_error)
		StrBufPuts(out, ",\"follower_count\":\"" PH_FOLLOWERS "\"");
	else
	{
		GenFollowers(g, followers, sizeof(followers));
		StrBufPrintf(out, ",\"follower_count\":\"%s\"", followers);
	}

	StrBufPuts(out, ",\"tag_list\":");
	if (p->tags_error)
		StrBufPuts(out, "\"" PH_TAGS "\"");
	else
	{
		StrBufReset(&tmp);
		GenTags(g, c, &tmp);
		GenPutJson(out, &tmp);
	}

	StrBufPrintf(out, ",\"is_image_or_video\":\"%s\"", p->media);
	if (p->image_error)
		StrBufPuts(out, ",\"image_src\":\"" PH_IMAGE "\"");
	else
	{
		GenHex(g, hex, 32);
		StrBufPrintf(
			out, ",\"image_src\":\"https://i.pinimg.com/%s/%.2s/%.2s/%.2s/%s%s\"",
			strcmp(p->media, MEDIA_IMAGE) == 0 ? "originals" : "videos/thumbnails/originals", hex,
			hex + 2, hex + 4, hex, strcmp(p->media, MEDIA_IMAGE) == 0 ? ".jpg" : ".0000001.jpg");
	}
	if (kind == INVALID_DOWNLOADED_LIST)
		StrBufPuts(out, ",\"downloaded\":[1]");
	else
		StrBufPrintf(out, ",\"downloaded\":%d", p->image_error ? 0 : 1);
	StrBufPrintf(out, ",\"save_location\":\"Local save in /data/%s\",\"category\":\"%s\"}", c->name,
				 c->name);
}

/* ---------------------------------------------------------------- geo and user records */

/* The countries, first and last names the real geo and user records use most. */
static const char *const countries[] = {"Albania",		  "Algeria",
										"Afghanistan",	  "Aruba",
										"American Samoa", "Andorra",
										"Argentina",	  "Armenia",
										"Angola",		  "Antigua and Barbuda",
										"Azerbaijan",	  "Bangladesh",
										"Belgium",		  "Bulgaria",
										"Cote d'Ivoire",  "Dominican Republic",
										"Maldives",		  "Saint Barthelemy",
										"Timor-Leste",	  "United States Minor Outlying Islands",
										"Yemen",		  "Zimbabwe"};
static const char *const user_first_names[] = {
	"Aaron",	 "Amanda",	  "Adam",	  "Andrew", "Angela",  "Abigail",	 "Christopher",
	"Amy",		 "David",	  "Anthony",  "Brian",	"Ashley",  "Alexandria", "Michael",
	"Alexander", "Benjamin",  "James",	  "Andrea", "Brandon", "Daniel",	 "Amber",
	"John",		 "Alexandra", "Jennifer", "Albert"};
static const char *const user_last_names[] = {
	"Anderson", "Adams",   "Abbott", "Brown", "Alexander", "Allen",	  "Acosta",
	"Johnson",	"Davis",   "Bailey", "Baker", "Alvarado",  "Jones",	  "Andrews",
	"Ali",		"Alvarez", "Bates",	 "Bell",  "Barnes",	   "Bennett", "Berg",
	"Smith",	"Acevedo", "Garcia", "Carter"};

/* A "YYYY-MM-DD HH:MM:SS" time, uniform over the years [from, to). */
static void
GenTimestamp(EmuGen *g, int from, int to, char out[32])
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	EmuRng *r = &g->rng;
	/* one draw per statement: argument order is unspecified, the seed's output is not */
	int year = from + (int) RngBelow(r, (uint64_t) (to - from));
	int month = (int) RngBelow(r, 12);
	int day = 1 + (int) RngBelow(r, (uint64_t) mdays[month]);
	int hour = (int) RngBelow(r, 24);
	int minute = (int) RngBelow(r, 60);
	int second = (int) RngBelow(r, 60);

	snprintf(out, 32, "%04d-%02d-%02d %02d:%02d:%02d", year, month + 1, day, hour, minute, second);
}

/* Append a geolocation record of row ind (the fields and formats of geo_sample.jsonl). */
void
GenGeo(EmuGen *g, int ind, StrBuf *out)
{
	EmuRng *r = &g->rng;
	const char *country;
	char ts[32];
	double lat, lon;

	GenTimestamp(g, 2017, 2023, ts);
	lat = -90 + 180 * RngUniform(r);
	lon = -180 + 360 * RngUniform(r);
	StrBufPrintf(
		out,
		"{\"ind\":%d,\"timestamp\":\"%s\",\"latitude\":%.4f,\"longitude\":%.3f,\"country\":", ind,
		ts, lat, lon);
	country = PICK(r, countries);
	StrBufJsonString(out, country, strlen(country));
	StrBufPuts(out, "}");
}

/* Append a user record of row ind (the fields and formats of user_sample.jsonl). */
void
GenUser(EmuGen *g, int ind, StrBuf *out)
{
	EmuRng *r = &g->rng;
	char joined[32];
	/* ages 20..60, young users most frequent as in the real records */
	double u = RngUniform(r);
	int age = 20 + (int) (40 * u * RngUniform(r));
	const char *first = PICK(r, user_first_names);
	const char *last = PICK(r, user_last_names);

	GenTimestamp(g, 2015, 2018, joined);
	StrBufPrintf(
		out,
		"{\"ind\":%d,\"first_name\":\"%s\",\"last_name\":\"%s\",\"age\":%d,\"date_joined\":\"%s\"}",
		ind, first, last, age, joined);
}

uint64_t
GenBelow(EmuGen *g, uint64_t n)
{
	return RngBelow(&g->rng, n);
}
