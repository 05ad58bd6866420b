/* workload.c — the deterministic city-shaped workload. See workload.h.
 *
 * Randomness is counter based: every firm, demand and offer draws from its own
 * splitmix64 stream whose start is a mix of (seed, kind of record, index), so
 * record i never depends on records 0..i-1 and no state is shared.
 *
 * All shares, ranges and pairings below are our own estimates of a Hebi-like
 * supply chain (magnesium, die casting, auto parts, optoelectronics), chosen so
 * that a demand is eligible with a handful to a few hundred of 10^5 offers and
 * that many pairs miss on exactly one rule; they are not survey data.
 *
 * The term tables are taken from src/data/vocabulary.tsv (canonical ids only,
 * so validation leaves a generated record unchanged); the test validates
 * generated records against the embedded vocabulary. */
#include "workload.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uscc.h"
#include "vocab.h"

#define S_UTC_OFFSET_MIN 480 /* Hebi: "today" is the China-standard-time date */

/* ------------------------------------------------------------------ randomness */

typedef struct s_rng {
    uint64_t s; /* splitmix64 state */
} s_rng;

static uint64_t s_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Record streams: one per kind of record, so firm 7 and demand 7 differ. */
enum { S_FIRM = 1, S_DEMAND = 2, S_OFFER = 3, S_USCC = 4 };

static s_rng s_rng_at(uint64_t seed, uint64_t stream, uint64_t i)
{
    /* s_mix is a bijection, so distinct i give distinct starts within a stream */
    s_rng r = {s_mix(s_mix(seed ^ (stream * 0xd1b54a32d192ed03ULL)) ^ (i * 0x9e3779b97f4a7c15ULL))};
    return r;
}

static uint64_t s_next(s_rng *r)
{
    r->s += 0x9e3779b97f4a7c15ULL;
    return s_mix(r->s);
}

static double s_unit(s_rng *r) /* [0, 1) */
{
    return (double)(s_next(r) >> 11) * 0x1.0p-53;
}

static uint32_t s_below(s_rng *r, uint32_t n) /* [0, n) */
{
    return (uint32_t)(((s_next(r) >> 32) * (uint64_t)n) >> 32);
}

static uint32_t s_between(s_rng *r, uint32_t lo, uint32_t hi) /* [lo, hi] */
{
    return lo + s_below(r, hi - lo + 1);
}

static bool s_chance(s_rng *r, double p)
{
    return s_unit(r) < p;
}

static double s_loguni(s_rng *r, double lo, double hi)
{
    return lo * exp(s_unit(r) * log(hi / lo));
}

/* Zipf-like rank in [0, n): P(k) about proportional to (k+1)^-1.4, drawn by
 * inverting the continuous power law on [1, n+1) — the head of a list is
 * common (the first three of thirteen terms take about 65%), its tail rare. */
static uint32_t s_zipf(s_rng *r, uint32_t n)
{
    const double a = 1 - 1.4;
    double tail = pow((double)n + 1, a);
    double x = pow(1 - s_unit(r) * (1 - tail), 1 / a);
    uint32_t k = x < 1 ? 0 : (uint32_t)x - 1;
    return k < n ? k : n - 1;
}

/* Index into n weights w[]. */
static uint32_t s_weighted(s_rng *r, const unsigned *w, uint32_t n)
{
    unsigned total = 0;
    for (uint32_t i = 0; i < n; i++)
        total += w[i];
    unsigned x = s_below(r, total);
    for (uint32_t i = 0; i < n; i++) {
        if (x < w[i])
            return i;
        x -= w[i];
    }
    return n - 1;
}

#define S_N(a) ((uint32_t)(sizeof(a) / sizeof((a)[0])))

/* Picks a row of a table whose rows start with an `unsigned w` weight. */
#define S_PICK(r, table) s_pick_row((r), &(table)[0].w, S_N(table), sizeof((table)[0]))
static uint32_t s_pick_row(s_rng *r, const unsigned *w0, uint32_t n, size_t stride)
{
    unsigned total = 0;
    for (uint32_t i = 0; i < n; i++)
        total += *(const unsigned *)((const char *)w0 + i * stride);
    unsigned x = s_below(r, total);
    for (uint32_t i = 0; i < n; i++) {
        unsigned w = *(const unsigned *)((const char *)w0 + i * stride);
        if (x < w)
            return i;
        x -= w;
    }
    return n - 1;
}

/* ------------------------------------------------------------------ tables */

typedef struct s_list {
    const char *const *v; /* terms, most common first */
    uint32_t n;           /* count */
} s_list;
#define S_L(...)                                                                                             \
    {                                                                                                        \
        (const char *const[]){__VA_ARGS__}, sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *)      \
    }

/* Trades: what a firm does. Processes, materials and IPC classes are listed
 * most common first and drawn with s_zipf; the pairings are the usual ones
 * (die casting with Mg/Al/Zn alloys, CNC with steel and aluminium, SMT with
 * solder and FR-4, ...). price_lo/hi: unit price range, CNY per pcs (per kg
 * for kg trades). */
enum {
    T_DIECAST,
    T_MAGNESIUM,
    T_FOUNDRY,
    T_MACHINING,
    T_STAMPING,
    T_FORGE,
    T_SURFACE,
    T_MOULD,
    T_PLASTICS,
    T_ELECTRONICS,
    T_HARNESS,
    T_OPTO,
    T_ASSEMBLY,
    T_SERVICES,
    T__COUNT
};

typedef struct s_trade {
    const char *zh;   /* Chinese name, for titles */
    const char *word; /* Chinese word for firm names */
    s_list proc;      /* processes */
    s_list mat;       /* materials */
    s_list ipc;       /* IPC classes (normalised form) */
    s_list ind;       /* GB/T 4754 classes this trade works for */
    double kg;        /* share of demands counted in kg */
    double price_lo, price_hi;
} s_trade;

static const s_trade s_trades[T__COUNT] = {
    [T_DIECAST] = {"压铸件", "压铸",
                   S_L("casting.die.magnesium", "casting.die.aluminium", "casting.die.vacuum",
                       "machining.deburring", "casting.die.zinc", "machining.cnc.3axis",
                       "casting.semisolid.thixomolding", "surface.conversion", "mould.diecasting",
                       "heattreat.solution", "testing.ndt.xray", "surface.mao", "casting.squeeze"),
                   S_L("material.metal.magnesium.az91d", "material.metal.aluminium.adc12",
                       "material.metal.magnesium.am60b", "material.metal.aluminium.a380",
                       "material.metal.magnesium.am50a", "material.metal.zinc.zamak3",
                       "material.metal.aluminium.alsi10mg", "material.metal.zinc.zamak5"),
                   S_L("B22D 17/00", "B22D 17/20", "B22D 21/04", "C22C 23/02", "C22C 21/02", "B22D 17/22"),
                   S_L("C3392", "C3670", "C3240", "C3612"), 0.05, 3, 300},
    [T_MAGNESIUM] = {"镁合金材料", "镁业",
                     S_L("metallurgy.magnesium", "metallurgy.alloying", "metallurgy.recycling",
                         "extrusion.magnesium", "rolling.magnesium", "extrusion.aluminium",
                         "heattreat.anneal", "testing.material"),
                     S_L("material.metal.magnesium.pure", "material.metal.magnesium.az91d",
                         "material.metal.magnesium.az31b", "material.metal.magnesium.am60b",
                         "material.metal.magnesium.am50a", "material.metal.magnesium.we43",
                         "material.metal.aluminium.6063", "material.metal.aluminium.6061"),
                     S_L("C22B 26/22", "C22C 23/02", "C22C 23/00", "C22F 1/06", "B21C 23/00", "C22B 26/00"),
                     S_L("C3217", "C3240", "C3259", "C3216", "C3252"), 0.85, 16, 60},
    [T_FOUNDRY] = {"铸件", "铸造",
                   S_L("casting.sand", "casting.investment", "casting.lostfoam", "casting.gravity",
                       "casting.lowpressure", "machining.cnc.3axis", "heattreat.anneal", "surface.blasting",
                       "testing.ndt.ultrasonic"),
                   S_L("material.metal.iron.grey", "material.metal.iron.ductile",
                       "material.metal.steel.carbon.45", "material.metal.aluminium.a380",
                       "material.metal.steel.stainless.304", "material.metal.copper.bronze"),
                   S_L("B22C 9/02", "B22D 25/02", "B22C 9/04", "C22C 37/04"),
                   S_L("C3391", "C3392", "C3670", "C3423"), 0.3, 5, 400},
    [T_MACHINING] = {"机加工件", "精密机械",
                     S_L("machining.cnc.3axis", "machining.turning.cnc", "machining.cnc.4axis",
                         "machining.cnc.5axis", "machining.milling", "machining.drilling",
                         "machining.grinding.cylindrical", "machining.cnc.turnmill",
                         "machining.grinding.surface", "machining.turning.swiss", "machining.edm.wire",
                         "machining.deburring", "machining.grinding.centreless", "machining.honing",
                         "testing.cmm", "machining.edm.sinker", "machining.lapping"),
                     S_L("material.metal.aluminium.6061", "material.metal.steel.carbon.45",
                         "material.metal.steel.alloy.40cr", "material.metal.steel.stainless.304",
                         "material.metal.aluminium.7075", "material.metal.steel.alloy.42crmo",
                         "material.metal.magnesium.az91d", "material.metal.steel.stainless.316l",
                         "material.metal.copper.brass", "material.metal.iron.ductile", "material.plastic.pom",
                         "material.metal.titanium.tc4"),
                     S_L("B23Q 3/06", "B23B 1/00", "B23C 3/00", "G05B 19/4155", "B24B 5/04"),
                     S_L("C3484", "C3670", "C3489", "C3453", "C3421"), 0.0, 2, 800},
    [T_STAMPING] = {"冲压焊接件", "冲压",
                    S_L("stamping.progressive", "sheetmetal.bending", "welding.spot", "stamping.deepdraw",
                        "machining.laser.cutting", "welding.mig", "sheetmetal.punching", "welding.robotic",
                        "sheetmetal.enclosure", "mould.stamping.progressive", "stamping.fineblanking",
                        "welding.laser", "welding.tig"),
                    S_L("material.metal.steel.carbon.q235", "material.metal.steel.stainless.304",
                        "material.metal.aluminium.5052", "material.metal.steel.electrical",
                        "material.metal.steel.spring.65mn", "material.metal.copper.pure",
                        "material.metal.steel.stainless.316", "material.metal.aluminium.6061"),
                    S_L("B21D 22/02", "B21D 28/00", "B23K 11/11", "B23K 26/38"),
                    S_L("C3670", "C3311", "C3660", "C3489", "C3823"), 0.0, 0.5, 80},
    [T_FORGE] = {"锻件与热处理", "锻造",
                 S_L("forging.closed", "heattreat.quench", "forging.cold", "heattreat.carburize",
                     "heattreat.induction", "forging.open", "forging.ring", "heattreat.nitride",
                     "powdermetal.mim", "heattreat.vacuum", "machining.turning.cnc"),
                 S_L("material.metal.steel.alloy.40cr", "material.metal.steel.alloy.42crmo",
                     "material.metal.steel.carbon.45", "material.metal.steel.spring.60si2mn",
                     "material.metal.steel.tool.h13", "material.metal.steel.stainless.316l",
                     "material.metal.aluminium.6061"),
                 S_L("B21J 5/02", "C21D 1/18", "C21D 9/32", "B22F 3/22", "C23C 8/22"),
                 S_L("C3393", "C3670", "C3453", "C3451", "C3620"), 0.1, 3, 500},
    [T_SURFACE] = {"表面处理", "表面技术",
                   S_L("surface.anodizing", "surface.electroplating.zinc", "surface.powder", "surface.mao",
                       "surface.passivation", "surface.ecoat", "surface.anodizing.hard",
                       "surface.electroplating.nickel", "surface.conversion", "surface.painting",
                       "surface.blasting", "surface.phosphating", "surface.polishing", "surface.pvd",
                       "surface.galvanizing", "surface.electroplating.chrome", "surface.blackening",
                       "surface.brushing", "surface.electroless", "surface.printing"),
                   S_L("material.metal.aluminium.6061", "material.metal.magnesium.az91d",
                       "material.metal.steel.carbon.q235", "material.metal.aluminium.6063",
                       "material.metal.steel.stainless.304", "material.metal.aluminium.adc12",
                       "material.metal.zinc.zamak3", "material.metal.magnesium.am60b"),
                   S_L("C25D 11/04", "C25D 11/30", "C23C 22/00", "C25D 3/12", "B05D 1/00"),
                   S_L("C3360", "C3670", "C3392"), 0.0, 0.3, 40},
    [T_MOULD] = {"模具工装", "模具",
                 S_L("mould.injection", "mould.diecasting", "mould.stamping.progressive", "mould.fixture",
                     "mould.repair", "mould.gauge", "design.mould", "mould.forging", "mould.extrusion",
                     "machining.edm.wire", "machining.cnc.5axis"),
                 S_L("material.metal.steel.tool.h13", "material.metal.steel.tool.p20",
                     "material.metal.steel.tool.skd11", "material.metal.aluminium.7075",
                     "material.metal.copper.pure"),
                 S_L("B29C 45/26", "B22D 17/22", "B21D 37/00", "B29C 33/38"), S_L("C3525", "C3321", "C3670"),
                 0.0, 200, 20000},
    [T_PLASTICS] = {"注塑橡胶件", "塑胶",
                    S_L("plastics.injection.precision", "plastics.injection", "plastics.injection.insert",
                        "plastics.injection.overmould", "plastics.rubber", "plastics.extrusion",
                        "plastics.injection.twoshot", "plastics.blow", "plastics.compression",
                        "plastics.injection.lsr", "plastics.thermoform", "mould.injection"),
                    S_L("material.plastic.pa66.gf30", "material.plastic.abs", "material.plastic.pc",
                        "material.plastic.pp", "material.plastic.pa6", "material.plastic.pcabs",
                        "material.plastic.pbt", "material.plastic.pom", "material.rubber.epdm",
                        "material.plastic.tpe", "material.rubber.silicone", "material.plastic.pe",
                        "material.plastic.pvc", "material.rubber.nbr", "material.plastic.pps",
                        "material.plastic.lcp", "material.plastic.pmma", "material.rubber.fkm",
                        "material.plastic.peek"),
                    S_L("B29C 45/00", "B29C 45/14", "C08L 77/06", "B29C 48/00"),
                    S_L("C2929", "C2913", "C3670"), 0.05, 0.2, 60},
    [T_ELECTRONICS] = {"电子组件", "电子",
                       S_L("electronics.pcba.smt", "electronics.pcba.tht", "electronics.pcba.test",
                           "electronics.boxbuild", "electronics.pcb.multilayer", "electronics.pcba.coating",
                           "electronics.pcb.hdi", "electronics.pcba.potting", "electronics.pcb.flex",
                           "assembly.mechanical", "electronics.pcb.metalcore", "electronics.pcb.rigidflex",
                           "testing.emc"),
                       S_L("material.electronic.solder", "material.composite.fr4", "material.electronic.ccl",
                           "material.plastic.pc", "material.electronic.magnet", "material.metal.copper.pure"),
                       S_L("H05K 3/34", "H05K 1/02", "H05K 3/46", "H05K 13/04"),
                       S_L("C3982", "C3983", "C3962", "C3914", "C3670", "C4011"), 0.0, 2, 600},
    [T_HARNESS] = {"线束", "线缆",
                   S_L("harness.automotive", "harness.cutting", "harness.assembly", "harness.testing",
                       "harness.hv", "welding.ultrasonic", "plastics.injection.overmould"),
                   S_L("material.electronic.wire", "material.metal.copper.pure", "material.plastic.pvc",
                       "material.plastic.pa66", "material.plastic.tpe", "material.rubber.silicone"),
                   S_L("H01B 7/00", "H01R 43/048", "B60R 16/02"), S_L("C3670", "C3831", "C3839", "C3612"),
                   0.1, 5, 900},
    [T_OPTO] = {"光电器件", "光电",
                S_L("optics.fibre.connector", "optics.led", "optics.fibre.plc", "display.module",
                    "optics.assembly", "optics.lens.moulding", "optics.coating", "display.bonding",
                    "display.backlight", "testing.optical", "assembly.cleanroom", "optics.lens"),
                S_L("material.glass.optical.k9", "material.glass.quartz", "material.plastic.pmma",
                    "material.glass.cover", "material.plastic.pc", "material.ceramic.aln",
                    "material.ceramic.alumina", "material.composite.fr4"),
                S_L("G02B 6/38", "G02B 6/125", "H01L 33/48", "G02F 1/1333", "G02B 1/10"),
                S_L("C3976", "C3975", "C3974", "C3832", "C3052", "C4040"), 0.0, 1, 500},
    [T_ASSEMBLY] = {"机电总成", "机电",
                    S_L("assembly.mechanical", "assembly.automotive", "welding.robotic",
                        "machining.cnc.3axis", "sheetmetal.enclosure", "design.mechanical",
                        "testing.calibration", "electronics.boxbuild"),
                    S_L("material.metal.steel.carbon.q235", "material.metal.aluminium.6061",
                        "material.metal.steel.electrical", "material.metal.copper.pure",
                        "material.electronic.magnet"),
                    S_L("B25J 9/16", "H02K 15/00", "F16H 57/02", "B62D 65/00"),
                    S_L("C3491", "C3812", "C3421", "C3612", "C3823", "C3841"), 0.0, 50, 20000},
    [T_SERVICES] = {"检测设计服务", "科技",
                    S_L("testing.cmm", "design.prototyping", "testing.material", "testing.ndt.xray",
                        "testing.saltspray", "design.simulation", "additive.metal",
                        "testing.environmental.vibration", "design.mechanical", "testing.emc",
                        "packaging.carton", "testing.ndt.ct", "design.industrial", "testing.calibration",
                        "design.electronics", "additive.polymer", "testing.ndt.ultrasonic", "packaging.esd",
                        "testing.ndt.penetrant", "packaging.foam", "packaging.blister"),
                    S_L("material.metal.aluminium.alsi10mg", "material.metal.magnesium",
                        "material.metal.steel", "material.metal.titanium.tc4", "material.plastic.pa6",
                        "material.metal.aluminium"),
                    S_L("G01N 3/08", "G01N 23/046", "G06F 30/23", "B33Y 10/00", "B22F 10/28"),
                    S_L("M7452", "M7491", "M7320", "L7224", "C3493", "C4015"), 0.0, 20, 5000},
};

/* Firm profiles: industry (GB/T 4754 class) and trade, in per mille of firms.
 * Auto parts C3670 30%, non-ferrous C32xx 9%, metal products C33xx 17%,
 * machinery C34/C35 14%, electrical/electronics C38/C39 16%, others 14%. */
static const struct s_profile {
    unsigned w;
    const char *industry;
    int trade;
} s_profiles[] = {
    {70, "C3670", T_DIECAST},     {60, "C3670", T_MACHINING},   {45, "C3670", T_STAMPING},
    {35, "C3670", T_PLASTICS},    {30, "C3670", T_HARNESS},     {20, "C3670", T_FORGE},
    {15, "C3670", T_ELECTRONICS}, {10, "C3670", T_SURFACE},     {15, "C3670", T_ASSEMBLY},
    {35, "C3217", T_MAGNESIUM},   {20, "C3240", T_MAGNESIUM},   {15, "C3259", T_MAGNESIUM},
    {5, "C3216", T_MAGNESIUM},    {15, "C3252", T_MAGNESIUM},   {45, "C3392", T_DIECAST},
    {25, "C3391", T_FOUNDRY},     {25, "C3393", T_FORGE},       {35, "C3360", T_SURFACE},
    {30, "C3311", T_STAMPING},    {10, "C3321", T_MACHINING},   {40, "C3484", T_MACHINING},
    {10, "C3489", T_MACHINING},   {10, "C3453", T_FORGE},       {10, "C3451", T_MACHINING},
    {15, "C3491", T_ASSEMBLY},    {10, "C3421", T_ASSEMBLY},    {35, "C3525", T_MOULD},
    {5, "C3423", T_ASSEMBLY},     {5, "C3493", T_SERVICES},     {15, "C3812", T_ASSEMBLY},
    {10, "C3823", T_ASSEMBLY},    {15, "C3831", T_HARNESS},     {10, "C3841", T_ASSEMBLY},
    {20, "C3976", T_OPTO},        {10, "C3975", T_OPTO},        {10, "C3974", T_OPTO},
    {5, "C3832", T_OPTO},         {25, "C3982", T_ELECTRONICS}, {15, "C3983", T_ELECTRONICS},
    {15, "C3962", T_ELECTRONICS}, {10, "C3914", T_ELECTRONICS}, {35, "C2929", T_PLASTICS},
    {15, "C2913", T_PLASTICS},    {5, "C4015", T_SERVICES},     {10, "C4011", T_ELECTRONICS},
    {5, "C3052", T_OPTO},         {25, "M7452", T_SERVICES},    {10, "M7491", T_SERVICES},
    {15, "M7320", T_SERVICES},    {10, "L7224", T_SERVICES},    {10, "C3612", T_ASSEMBLY},
};

/* Trades of what is demanded (percent): what the local chain buys. Service
 * and intermediate-goods demands lean to their own trades (s_demand_trade). */
static const unsigned s_demand_trades[T__COUNT] = {
    [T_DIECAST] = 16, [T_MAGNESIUM] = 6, [T_FOUNDRY] = 5,  [T_MACHINING] = 18, [T_STAMPING] = 10,
    [T_FORGE] = 5,    [T_SURFACE] = 9,   [T_MOULD] = 6,    [T_PLASTICS] = 8,   [T_ELECTRONICS] = 7,
    [T_HARNESS] = 4,  [T_OPTO] = 3,      [T_ASSEMBLY] = 3, [T_SERVICES] = 0,
};

/* Locations: GB/T 2260 counties and zones of src/data/vocabulary.tsv with
 * approximate centres (WGS 84) and weights in 1/10000 of firms:
 * the three districts (Qibin 410611 with the development and demonstration
 * zones) 45%, the rest of Hebi 20%, other Henan cities 35% (Zhengzhou heaviest,
 * then the neighbours Xinxiang and Anyang, Luoyang). */
static const struct s_loc {
    unsigned w;
    const char *county, *zone;
    double lat, lon;
    const char *city; /* for firm names */
    const char *tel;  /* area code */
} s_locs[] = {
    {2000, "410611", "hebi.etdz", 35.705, 114.265, "鹤壁", "0392"},
    {1100, "410611", "hebi.urdz", 35.735, 114.345, "鹤壁", "0392"},
    {1400, "410611", NULL, 35.748, 114.297, "鹤壁", "0392"},
    {300, "410602", NULL, 35.954, 114.163, "鹤壁", "0392"},
    {300, "410603", "hebi.baoshan", 35.880, 114.150, "鹤壁", "0392"},
    {300, "410603", NULL, 35.898, 114.184, "鹤壁", "0392"},
    {250, "410621", "hebi.xunxian", 35.660, 114.520, "浚县", "0392"},
    {250, "410621", NULL, 35.676, 114.550, "浚县", "0392"},
    {350, "410622", "hebi.qixian", 35.620, 114.180, "淇县", "0392"},
    {250, "410622", NULL, 35.608, 114.198, "淇县", "0392"},
    {200, "410102", NULL, 34.748, 113.612, "郑州", "0371"},
    {200, "410103", NULL, 34.728, 113.640, "郑州", "0371"},
    {200, "410104", NULL, 34.754, 113.690, "郑州", "0371"},
    {250, "410105", NULL, 34.800, 113.660, "郑州", "0371"},
    {150, "410106", NULL, 34.815, 113.298, "郑州", "0371"},
    {200, "410108", NULL, 34.850, 113.610, "郑州", "0371"},
    {30, "410202", NULL, 34.799, 114.351, "开封", "0371"},
    {30, "410203", NULL, 34.800, 114.365, "开封", "0371"},
    {20, "410204", NULL, 34.789, 114.349, "开封", "0371"},
    {20, "410205", NULL, 34.778, 114.348, "开封", "0371"},
    {50, "410212", NULL, 34.756, 114.437, "开封", "0371"},
    {60, "410302", NULL, 34.683, 112.470, "洛阳", "0379"},
    {60, "410303", NULL, 34.667, 112.433, "洛阳", "0379"},
    {60, "410304", NULL, 34.681, 112.500, "洛阳", "0379"},
    {120, "410305", NULL, 34.658, 112.370, "洛阳", "0379"},
    {100, "410311", NULL, 34.619, 112.464, "洛阳", "0379"},
    {30, "410402", NULL, 33.737, 113.293, "平顶山", "0375"},
    {30, "410403", NULL, 33.733, 113.335, "平顶山", "0375"},
    {20, "410404", NULL, 33.899, 112.898, "平顶山", "0375"},
    {20, "410411", NULL, 33.726, 113.294, "平顶山", "0375"},
    {100, "410502", NULL, 36.098, 114.357, "安阳", "0372"},
    {90, "410503", NULL, 36.110, 114.356, "安阳", "0372"},
    {90, "410505", NULL, 36.109, 114.303, "安阳", "0372"},
    {120, "410506", NULL, 36.067, 114.298, "安阳", "0372"},
    {120, "410702", NULL, 35.303, 113.875, "新乡", "0373"},
    {100, "410703", NULL, 35.307, 113.865, "新乡", "0373"},
    {100, "410704", NULL, 35.384, 113.912, "新乡", "0373"},
    {180, "410711", NULL, 35.313, 113.914, "新乡", "0373"},
    {60, "410802", NULL, 35.240, 113.230, "焦作", "0391"},
    {60, "410803", NULL, 35.236, 113.186, "焦作", "0391"},
    {60, "410804", NULL, 35.262, 113.322, "焦作", "0391"},
    {70, "410811", NULL, 35.214, 113.254, "焦作", "0391"},
    {80, "410902", NULL, 35.777, 115.074, "濮阳", "0393"},
    {80, "411002", NULL, 34.026, 113.818, "许昌", "0374"},
    {70, "411003", NULL, 34.124, 113.822, "许昌", "0374"},
    {20, "411102", NULL, 33.574, 114.006, "漯河", "0395"},
    {20, "411103", NULL, 33.587, 113.981, "漯河", "0395"},
    {20, "411104", NULL, 33.557, 114.004, "漯河", "0395"},
    {20, "411202", NULL, 34.773, 111.194, "三门峡", "0398"},
    {20, "411203", NULL, 34.721, 111.103, "三门峡", "0398"},
    {25, "411302", NULL, 32.999, 112.543, "南阳", "0377"},
    {25, "411303", NULL, 32.983, 112.528, "南阳", "0377"},
    {20, "411402", NULL, 34.444, 115.625, "商丘", "0370"},
    {20, "411403", NULL, 34.389, 115.653, "商丘", "0370"},
    {15, "411502", NULL, 32.123, 114.057, "信阳", "0376"},
    {15, "411503", NULL, 32.101, 114.125, "信阳", "0376"},
    {15, "411602", NULL, 33.625, 114.655, "周口", "0394"},
    {15, "411603", NULL, 33.733, 114.884, "周口", "0394"},
    {20, "411702", NULL, 33.002, 114.022, "驻马店", "0396"},
    {40, "419001", NULL, 35.067, 112.602, "济源", "0391"},
};

/* Kinds (gx_kind order, NONE first): demands 35/35/15/5/10 percent; offers
 * lean to what their trade sells. */
static const unsigned s_kind_demand[GX_KIND__COUNT] = {0, 35, 35, 15, 5, 10};
static const unsigned s_kind_offer[GX_KIND__COUNT] = {0, 38, 35, 12, 5, 10};
static const unsigned s_kind_offer_services[GX_KIND__COUNT] = {0, 3, 15, 2, 10, 70};
static const unsigned s_kind_offer_material[GX_KIND__COUNT] = {0, 20, 10, 55, 10, 5};
static const unsigned s_kind_offer_processing[GX_KIND__COUNT] = {0, 10, 70, 3, 5, 12};

/* Region scope (gx_scope order, NONE first): demands same district 10%, three
 * districts 25%, city 30%, province 25%, anywhere 10%; offers serve mostly the
 * city, the province or anywhere. */
static const unsigned s_scope_demand[] = {0, 10, 25, 30, 25, 10};
static const unsigned s_scope_offer[] = {0, 3, 7, 25, 35, 30};

static const char *const s_kind_zh[GX_KIND__COUNT] = {"",         "零部件采购", "委托加工", "原材料与中间品",
                                                      "技术转让", "服务外包"};
static const char *const s_brand[] = {"天", "海", "宏", "华", "鑫", "恒", "瑞", "通", "达", "盛", "博",
                                      "源", "泰", "昌", "兴", "金", "联", "创", "新", "汇", "中", "德",
                                      "信", "隆", "丰", "远", "嘉", "锐", "捷", "凯", "淇", "豫"};
static const char *const s_surname[] = {"王", "李", "张", "刘", "陈", "杨", "赵", "黄",
                                        "周", "吴", "徐", "孙", "马", "朱", "胡", "郭"};

/* ------------------------------------------------------------------ firms */

/* What postings need to know about a firm, drawn first from its stream. */
typedef struct s_core {
    uint32_t loc;     /* row of s_locs */
    uint32_t prof;    /* row of s_profiles */
    bool anchor;      /* anchor firm (else SME) */
    gx_credit credit; /* A 55%, B 35%, C 8%, D 2% */
    char id[GX_FIRM_ID_LEN + 1];
} s_core;

#define S_ORG_SPACE 27512614111ULL
#define S_CITY_FIRMS 5000 /* firms a city platform holds before it is the province's */ /* 31^7 organisation codes after "MA" */

/* Firm i's USCC: "91" (enterprise registered with market regulation), the
 * county, "MA" plus seven symbols that are an affine bijection of i (so ids
 * never collide within a seed), and the GB 32100 check character. */
static void s_uscc(uint64_t seed, size_t i, const char *county, char out[GX_FIRM_ID_LEN + 1])
{
    static const char sym[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    uint64_t off = s_mix(seed ^ S_USCC) % S_ORG_SPACE;
    uint64_t v = ((uint64_t)(i % S_ORG_SPACE) * 1000003ULL % S_ORG_SPACE + off) % S_ORG_SPACE;
    memcpy(out, "91", 2);
    memcpy(out + 2, county, GX_COUNTY_LEN);
    out[8] = 'M';
    out[9] = 'A';
    for (int k = 16; k >= 10; k--) {
        out[k] = sym[v % 31];
        v /= 31;
    }
    out[17] = 0;
    out[17] = gx_uscc_check_char(out);
    out[18] = 0;
}

static s_rng s_firm_core(const gx_wl_opts *o, size_t i, s_core *c)
{
    static const unsigned credit_w[] = {55, 35, 8, 2};
    s_rng r = s_rng_at(o->seed, S_FIRM, i);
    c->loc = S_PICK(&r, s_locs);
    /* Beyond S_CITY_FIRMS firms the platform is the province's, not Hebi's:
     * a Hebi firm is kept with probability S_CITY_FIRMS / firms, else moved
     * to the rest of Henan by the same weights, so Hebi's share falls from
     * 65% (a city platform) to about 16% at 50,000 firms. */
    if (o->firms > S_CITY_FIRMS && strncmp(s_locs[c->loc].county, "4106", 4) == 0 &&
        !s_chance(&r, (double)S_CITY_FIRMS / (double)o->firms))
        for (int tries = 0; tries < 64 && strncmp(s_locs[c->loc].county, "4106", 4) == 0; tries++)
            c->loc = S_PICK(&r, s_locs);
    c->prof = S_PICK(&r, s_profiles);
    c->anchor = s_chance(&r, 0.10);
    c->credit = (gx_credit)(GX_CREDIT_A + s_weighted(&r, credit_w, 4));
    s_uscc(o->seed, i, s_locs[c->loc].county, c->id);
    return r;
}

static char *s_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *s_printf(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return strdup(buf);
}

static gx_err s_add_cert(gx_firm *f, s_rng *r, const char *scheme, int32_t today)
{
    gx_cert *c = &f->certs[f->n_certs];
    /* ~5% expired up to a year ago, the rest valid 1-3 years from today */
    c->valid_until =
        s_chance(r, 0.05) ? today - (int32_t)s_between(r, 1, 365) : today + (int32_t)s_between(r, 365, 1095);
    c->scheme = strdup(scheme);
    c->number =
        s_printf("%05u%c%05u", s_between(r, 10000, 99999), "QEST"[s_below(r, 4)], s_between(r, 0, 99999));
    if (!c->scheme || !c->number) {
        free(c->scheme);
        free(c->number);
        c->scheme = c->number = NULL;
        return GX_ERR_NOMEM;
    }
    f->n_certs++;
    return GX_OK;
}

gx_err gx_wl_firm(const gx_wl_opts *opts, size_t i, gx_firm *out)
{
    memset(out, 0, sizeof *out);
    if (!opts || opts->firms < 2 || i >= opts->firms)
        return GX_ERR_INVALID;
    s_core c;
    s_rng r = s_firm_core(opts, i, &c);
    const struct s_loc *loc = &s_locs[c.loc];
    const struct s_profile *p = &s_profiles[c.prof];
    const s_trade *t = &s_trades[p->trade];
    int32_t today = gx_date_of(opts->now, S_UTC_OFFSET_MIN);
    gx_err err = GX_ERR_NOMEM;

    memcpy(out->id, c.id, sizeof out->id);
    out->roles = GX_BIT(c.anchor ? GX_ROLE_ANCHOR : GX_ROLE_SME);
    memcpy(out->county, loc->county, sizeof out->county);
    if (loc->zone && !(out->zone = strdup(loc->zone)))
        goto out;
    /* within ~3 km of the district centre (1 degree latitude = 111 km) */
    out->has_location = true;
    out->lat = loc->lat + (s_unit(&r) - 0.5) * 0.055;
    out->lon = loc->lon + (s_unit(&r) - 0.5) * 0.068;
    out->credit = c.credit;
    const char *b1 = s_brand[s_below(&r, S_N(s_brand))], *b2 = s_brand[s_below(&r, S_N(s_brand))];
    out->name = s_printf("%s%s%s%s%s有限公司", loc->city, b1, b2, t->word,
                         c.anchor            ? "集团"
                         : s_chance(&r, 0.5) ? "科技"
                                             : "");
    out->contact = s_printf("%s经理 %s-%07u", s_surname[s_below(&r, S_N(s_surname))], loc->tel,
                            s_between(&r, 2000000, 8999999));
    if (!out->name || !out->contact)
        goto out;

    /* Certifications (share of firms): ISO9001 70%; ISO14001 35% and ISO45001
     * 25%, mostly held together with ISO9001; IATF16949 30% of motor-vehicle
     * firms (C36xx), 8% of other metal/plastics/harness suppliers, 1% others;
     * a few percent each of RoHS, CCC, ISO17025 (testing labs 40%), ISO13485,
     * AS9100, ISO3834, QC080000, GBT29490, ISO50001. */
    bool auto_firm = strncmp(p->industry, "C36", 3) == 0;
    bool auto_chain = p->trade <= T_PLASTICS || p->trade == T_HARNESS;
    bool elec = p->trade == T_ELECTRONICS || p->trade == T_OPTO || p->trade == T_HARNESS;
    bool iso9001 = s_chance(&r, 0.70);
    struct {
        const char *scheme;
        double p;
    } certs[] = {
        {"ISO9001", iso9001 ? 1.0 : 0.0},
        {"ISO14001", iso9001 ? 0.45 : 0.10},
        {"ISO45001", iso9001 ? 0.32 : 0.08},
        {"IATF16949", auto_firm    ? 0.30
                      : auto_chain ? 0.08
                                   : 0.01},
        {"RoHS", elec ? 0.25 : 0.02},
        {"CCC", elec || p->trade == T_ASSEMBLY ? 0.08 : 0.01},
        {"QC080000", elec ? 0.06 : 0.0},
        {"ISO17025", p->trade == T_SERVICES ? 0.40 : 0.01},
        {"ISO13485", 0.02},
        {"AS9100", p->trade == T_MACHINING || p->trade == T_FORGE ? 0.04 : 0.01},
        {"ISO3834", p->trade == T_STAMPING ? 0.10 : 0.01},
        {"GBT29490", 0.03},
        {"ISO50001", p->trade == T_MAGNESIUM ? 0.15 : 0.01},
    };
    out->certs = calloc(S_N(certs), sizeof *out->certs);
    if (!out->certs)
        goto out;
    for (uint32_t k = 0; k < S_N(certs); k++)
        if (s_chance(&r, certs[k].p) && (err = s_add_cert(out, &r, certs[k].scheme, today)))
            goto out;
    err = GX_OK;
out:
    if (err)
        gx_firm_fini(out);
    return err;
}

/* ------------------------------------------------------------------ postings */

/* Owner of a posting. Demands are posted mostly by anchors: up to eight firms
 * are tried for one (about 57% of demands come from the 10% anchor firms). */
static size_t s_owner(const gx_wl_opts *o, s_rng *r, bool prefer_anchor, s_core *c)
{
    size_t i = 0;
    for (int tries = 0; tries < (prefer_anchor ? 8 : 1); tries++) {
        i = (size_t)(((s_next(r) >> 16) % (uint64_t)o->firms));
        s_firm_core(o, i, c);
        if (c->anchor)
            break;
    }
    return i;
}

/* Pushes s unless already there (validation refuses a code listed twice). */
static gx_err s_push(gx_strv *sv, const char *s)
{
    return gx_strv_has(sv, s) ? GX_OK : gx_strv_push(sv, s);
}

/* The parent of a dotted id in buf, or id itself when the parent would be a
 * top-level term ("casting", "material.metal"): mid-level terms only. */
static const char *s_parent(const char *id, char *buf, size_t n, int min_dots)
{
    const char *dot = strrchr(id, '.');
    int dots = 0;
    for (const char *p = id; *p; p++)
        dots += *p == '.';
    if (!dot || dots <= min_dots || (size_t)(dot - id) >= n)
        return id;
    memcpy(buf, id, (size_t)(dot - id));
    buf[dot - id] = 0;
    return buf;
}

/* n terms of list l by Zipf rank; each is replaced by its parent with
 * probability p_parent (processes: 3-level only; materials: below the family).
 * With `head`, terms after the first come from the six commonest: a demand
 * pairs its main process with an everyday one (deburring, 3-axis CNC). */
static gx_err s_terms(s_rng *r, const s_list *l, uint32_t n, double p_parent, int min_dots, bool head,
                      gx_strv *out)
{
    gx_err err = GX_OK;
    for (uint32_t k = 0; k < n && !err; k++) {
        char buf[96];
        const char *id = l->v[s_zipf(r, head && k > 0 && l->n > 6 ? 6 : l->n)];
        if (s_chance(r, p_parent))
            id = s_parent(id, buf, sizeof buf, min_dots);
        err = s_push(out, id);
    }
    return err;
}

static double s_round(double x, double step)
{
    return round(x / step) * step;
}

static void s_list_text(char *buf, size_t n, const gx_strv *sv)
{
    size_t len = 0;
    buf[0] = 0;
    for (uint32_t i = 0; i < sv->n && len < n; i++) {
        int w = snprintf(buf + len, n - len, "%s%s", i ? ", " : "", sv->v[i]);
        if (w < 0)
            break;
        len += (size_t)w;
    }
}

static int s_demand_trade(s_rng *r, gx_kind kind, int owner_trade)
{
    if (kind == GX_KIND_SERVICE_OUTSOURCING && s_chance(r, 0.6))
        return T_SERVICES;
    if (kind == GX_KIND_INTERMEDIATE_GOODS && s_chance(r, 0.5))
        return T_MAGNESIUM;
    if (s_chance(r, 0.2)) /* overflow work in the owner's own trade */
        return owner_trade;
    return (int)s_weighted(r, s_demand_trades, T__COUNT);
}

/* 1-2 IPC classes (demands: 30% of them only the subclass, "B22D"). */
static gx_err s_ipc(s_rng *r, const s_trade *t, uint32_t n, bool subclass, gx_strv *out)
{
    gx_err err = GX_OK;
    for (uint32_t k = 0; k < n && !err; k++) {
        char buf[GX_IPC_MAX];
        const char *c = t->ipc.v[s_zipf(r, t->ipc.n)];
        if (subclass && s_chance(r, 0.3)) {
            snprintf(buf, sizeof buf, "%.4s", c);
            c = buf;
        }
        err = s_push(out, c);
    }
    return err;
}

gx_err gx_wl_demand(const gx_wl_opts *opts, uint64_t i, gx_demand *out)
{
    memset(out, 0, sizeof *out);
    if (!opts || opts->firms < 2)
        return GX_ERR_INVALID;
    s_rng r = s_rng_at(opts->seed, S_DEMAND, i);
    s_core owner;
    s_owner(opts, &r, true, &owner);
    const struct s_profile *op = &s_profiles[owner.prof];
    int32_t today = gx_date_of(opts->now, S_UTC_OFFSET_MIN);
    gx_err err = GX_ERR_NOMEM;

    out->revision = 1;
    out->state = GX_STATE_OPEN;
    memcpy(out->owner, owner.id, sizeof out->owner);
    out->kind = (gx_kind)s_weighted(&r, s_kind_demand, GX_KIND__COUNT);
    int tr = s_demand_trade(&r, out->kind, op->trade);
    const s_trade *t = &s_trades[tr];
    bool tech = out->kind == GX_KIND_TECH_TRANSFER;
    /* industry: the owner's (60%) or one the trade works for */
    const char *ind = s_chance(&r, 0.6) ? op->industry : t->ind.v[s_zipf(&r, t->ind.n)];
    if (!(out->industry = strdup(ind)))
        goto out;

    /* processes 1-3 (65/28/7%), 15% of them the mid-level parent;
     * materials 0-2 (30/50/20%) */
    static const unsigned nproc_w[] = {65, 28, 7}, nmat_w[] = {30, 50, 20};
    if ((err = s_terms(&r, &t->proc, 1 + s_weighted(&r, nproc_w, 3), 0.15, 1, true, &out->processes)) ||
        (err = s_terms(&r, &t->mat, s_weighted(&r, nmat_w, 3), 0.15, 2, true, &out->materials)))
        goto out;
    /* certifications 0-2: ISO9001 45%, IATF16949 50% of motor-vehicle (C36)
     * demands, RoHS 20% of electronics, ISO14001 8% */
    bool auto_d = strncmp(out->industry, "C36", 3) == 0;
    bool elec = tr == T_ELECTRONICS || tr == T_OPTO || tr == T_HARNESS;
    if ((s_chance(&r, 0.45) && (err = gx_strv_push(&out->certs, "ISO9001"))) ||
        (auto_d && s_chance(&r, 0.5) && (err = gx_strv_push(&out->certs, "IATF16949"))) ||
        (elec && out->certs.n < 2 && s_chance(&r, 0.2) && (err = gx_strv_push(&out->certs, "RoHS"))) ||
        (out->certs.n < 2 && s_chance(&r, 0.08) && (err = gx_strv_push(&out->certs, "ISO14001"))))
        goto out;

    /* quantity log-uniform 100..200000 (tech transfer: one licence) */
    bool kg = s_chance(&r, t->kg);
    if (tech) {
        out->quantity = 1;
    } else {
        out->quantity = s_round(s_loguni(&r, 100, 200000), 10);
    }
    out->original_quantity = out->quantity;
    if (!(out->unit = strdup(kg ? "kg" : "pcs")))
        goto out;
    out->needed_by = today + (int32_t)s_between(&r, 20, 180);
    /* unit budget 60%: around a unit price of the trade; the lower bound is
     * left open (0) half the time */
    if (s_chance(&r, 0.6)) {
        double p = tech ? s_loguni(&r, 5e4, 5e6) : s_loguni(&r, t->price_lo, t->price_hi);
        out->has_budget = true;
        out->budget_min = s_chance(&r, 0.5) ? 0 : s_round(p * 0.6, 0.01);
        out->budget_max = s_round(p * 1.15, 0.01);
    }
    static const unsigned credit_w[] = {10, 50, 40}; /* min credit A/B/C */
    out->min_credit = (gx_credit)(GX_CREDIT_A + s_weighted(&r, credit_w, 3));
    out->scope = (gx_scope)s_weighted(&r, s_scope_demand, S_N(s_scope_demand));
    if (s_chance(&r, 0.15))
        out->max_distance_km = 50 + 10 * s_below(&r, 26); /* 50..300 km */
    if (!tech && s_chance(&r, 0.3)) {
        out->splittable = true;
        out->max_suppliers = s_between(&r, 2, 5);
    }
    if (tech) {
        /* 1-2 IPC classes, minimum TRL 4-8, modes: any (30%) or one or two */
        if ((err = s_ipc(&r, t, 1 + s_chance(&r, 0.3), true, &out->ipc)))
            goto out;
        out->min_trl = s_between(&r, 4, 8);
        if (s_chance(&r, 0.7)) {
            out->modes = GX_BIT(s_between(&r, GX_MODE_LICENCE, GX_MODE_JOINT_DEVELOPMENT));
            if (s_chance(&r, 0.3))
                out->modes |= GX_BIT(s_between(&r, GX_MODE_LICENCE, GX_MODE_JOINT_DEVELOPMENT));
        }
    }
    char procs[512], mats[512], date[11];
    s_list_text(procs, sizeof procs, &out->processes);
    s_list_text(mats, sizeof mats, &out->materials);
    gx_date_format(out->needed_by, date);
    out->title = s_printf("%s：%s %g %s", s_kind_zh[out->kind], t->zh, out->quantity, out->unit);
    out->summary = s_printf("需要 %s%s%s；%g %s，%s 前交付。", procs, mats[0] ? "；材料 " : "", mats,
                            out->quantity, out->unit, date);
    out->details = s_printf("图号 WL-%08llX；FCA 鹤壁；付款 月结30天；联系采购部。",
                            (unsigned long long)(s_next(&r) & 0xffffffffULL));
    if (!out->title || !out->summary || !out->details)
        goto out;
    out->created_at = opts->now;
    out->expires_at = opts->now + (int64_t)s_between(&r, 30 * 86400, 120 * 86400);
    err = GX_OK;
out:
    if (err)
        gx_demand_fini(out);
    return err;
}

gx_err gx_wl_offer(const gx_wl_opts *opts, uint64_t i, gx_offer *out)
{
    memset(out, 0, sizeof *out);
    if (!opts || opts->firms < 2)
        return GX_ERR_INVALID;
    s_rng r = s_rng_at(opts->seed, S_OFFER, i);
    s_core owner;
    s_owner(opts, &r, false, &owner);
    const struct s_profile *op = &s_profiles[owner.prof];
    gx_err err = GX_ERR_NOMEM;

    out->revision = 1;
    out->state = GX_STATE_OPEN;
    memcpy(out->owner, owner.id, sizeof out->owner);
    /* the owner's trade (85%) or a sideline */
    int tr = s_chance(&r, 0.85) ? op->trade : (int)s_weighted(&r, s_demand_trades, T__COUNT);
    const s_trade *t = &s_trades[tr];

    /* kinds: one by the trade's leaning, a second (40%) by the general mix;
     * technology offers serve only TECH_TRANSFER */
    const unsigned *kw = tr == T_SERVICES                                    ? s_kind_offer_services
                         : tr == T_MAGNESIUM                                 ? s_kind_offer_material
                         : tr == T_SURFACE || tr == T_FORGE || tr == T_MOULD ? s_kind_offer_processing
                                                                             : s_kind_offer;
    gx_kind k1 = (gx_kind)s_weighted(&r, kw, GX_KIND__COUNT);
    out->kinds = GX_BIT(k1);
    bool tech = k1 == GX_KIND_TECH_TRANSFER;
    if (!tech && s_chance(&r, 0.4)) {
        gx_kind k2 = (gx_kind)s_weighted(&r, s_kind_offer, GX_KIND__COUNT);
        if (k2 != GX_KIND_TECH_TRANSFER)
            out->kinds |= GX_BIT(k2);
    }
    if ((err = gx_strv_push(&out->industries, op->industry)) ||
        (s_chance(&r, 0.3) && (err = s_push(&out->industries, t->ind.v[s_zipf(&r, t->ind.n)]))))
        goto out;
    /* processes 2-5 (15/30/30/25%), materials 1-3 (25/45/30%), 10% of the
     * terms the mid-level parent */
    static const unsigned nproc_w[] = {15, 30, 30, 25}, nmat_w[] = {25, 45, 30};
    if ((err = s_terms(&r, &t->proc, 2 + s_weighted(&r, nproc_w, 4), 0.10, 1, false, &out->processes)) ||
        (err = s_terms(&r, &t->mat, 1 + s_weighted(&r, nmat_w, 3), 0.10, 2, false, &out->materials)))
        goto out;

    if (tech) {
        /* 1-3 IPC classes, TRL 3-9 (mostly 5-8), 1-3 transfer modes; one to
         * four transfer projects a month */
        if ((err = s_ipc(&r, t, s_between(&r, 1, 3), false, &out->ipc)))
            goto out;
        out->trl = s_chance(&r, 0.8) ? s_between(&r, 5, 8) : s_between(&r, 3, 9);
        out->modes = GX_BIT(s_between(&r, GX_MODE_LICENCE, GX_MODE_JOINT_DEVELOPMENT));
        for (int m = GX_MODE_LICENCE; m <= GX_MODE_JOINT_DEVELOPMENT; m++)
            if (s_chance(&r, 0.35))
                out->modes |= GX_BIT(m);
        out->monthly_capacity = s_between(&r, 1, 4);
        out->min_order = 1;
    } else {
        /* monthly capacity log-uniform 2000..400000 units; minimum order
         * 50..5000 (at most a tenth of a month) */
        out->monthly_capacity = s_round(s_loguni(&r, 2000, 400000), 100);
        out->min_order = s_round(fmin(s_loguni(&r, 50, 5000), out->monthly_capacity / 10), 10);
    }
    /* lead time 5..60 days, shorter ones commoner */
    out->lead_time_days = 5 + (uint32_t)(56 * pow(s_unit(&r), 1.4));
    if (out->lead_time_days > 60)
        out->lead_time_days = 60;
    /* unit price range 70%: 0.85x..1.3x of a trade price, the upper bound open
     * (0) 10% of the time */
    if (s_chance(&r, 0.7)) {
        double p = tech ? s_loguni(&r, 5e4, 5e6) : s_loguni(&r, t->price_lo, t->price_hi);
        out->has_price = true;
        out->price_min = s_round(p * 0.85, 0.01);
        out->price_max = s_chance(&r, 0.1) ? 0 : s_round(p * 1.3, 0.01);
    }
    out->service_scope = (gx_scope)s_weighted(&r, s_scope_offer, S_N(s_scope_offer));
    if (s_chance(&r, 0.10))
        out->service_radius_km = 30 + 10 * s_below(&r, 28); /* 30..300 km */
    char procs[512];
    s_list_text(procs, sizeof procs, &out->processes);
    out->title = s_printf("%s：%s", tech ? "技术转让" : "承接", t->zh);
    out->summary = s_printf("可承接 %s；月产能 %g，起订 %g，交期 %u 天。", procs, out->monthly_capacity,
                            out->min_order, out->lead_time_days);
    if (!out->title || !out->summary)
        goto out;
    out->created_at = opts->now;
    out->expires_at = opts->now + (int64_t)s_between(&r, 60 * 86400, 365 * 86400);
    err = GX_OK;
out:
    if (err)
        gx_offer_fini(out);
    return err;
}
