// A generator of realistic social-media posts about brands: mentions, hashtags, emoji, typos, mixed
// lengths and sentiment, for load tests and demos (`klassify produce --generate`). Deterministic per seed.

const BRANDS = ['Acme Air', 'Globex', 'Initech', 'Umbrella Mobile', 'Hooli', 'Stark Phones', 'Wayne Rail', 'Soylent Foods', 'Vandelay Coffee', 'Pied Piper'];
const HANDLES = ['@AcmeAir', '@globex', '@initech_help', '@UmbrellaMobile', '@hooli', '@StarkPhones', '@WayneRail', '@soylent', '@vandelaycoffee', '@piedpiper'];
const POSITIVE = [
  'absolutely love the new update from {b}', 'shoutout to {h} for the amazing service today', '{b} just made my morning, thank you!!',
  'best customer support ever, {h} fixed it in five minutes', 'wow {b} really nailed it this time', 'so happy with my purchase from {b} 😍',
  'the crew at {b} were super friendly and helpful', '{h} you guys rock, flight landed early', 'honestly impressed by {b}, would recommend',
];
const NEGATIVE = [
  '{h} my order is three weeks late and nobody answers', 'worst experience ever with {b}, never again', '{b} cancelled my flight again. unbelievable 😡',
  'been on hold with {h} for two hours, this is ridiculous', 'the new {b} app update broke everything', '{h} charged me twice and refuses to refund',
  'terrible service at {b} today, rude staff and dirty seats', 'why is {b} so slow lately? so frustrating', '{h} lost my luggage. again. #fail',
];
const NEUTRAL = [
  'does anyone know if {b} is open on sundays?', '{h} what time does the sale start tomorrow', 'just saw an ad for {b} on the subway',
  '{b} announced a new product line today', 'heading to the {b} store to pick up a package', '{h} is the 5pm flight to Boston on schedule?',
  'reading an article about {b} and their quarterly results', 'switching my plan to {b} next month', '{b} is hiring in our city apparently',
];
const TAILS = ['', '', '', ' #customerservice', ' #travel', ' lol', ' 🙄', ' !!!', ' #monday', ' thx', ' smh', ' 👍', ' #tech'];
const FILLER = [
  'I have been a customer for years and', 'to be fair the weather was bad but', 'my friend told me the same thing happened to her and',
  'after reading all the reviews I decided to try again and', 'not sure what to think anymore but',
];

/** Mulberry32: tiny, fast, seedable PRNG (deterministic posts for reproducible benchmarks). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface GeneratedPost {
  id: string;
  text: string;
  brand: string;
  ts: number;
}

/** The generator's brands, for an example brands file and for --spike. */
export const GENERATOR_BRANDS: readonly string[] = BRANDS;

/**
 * An injected spike (`--spike "Acme Air:60s:8x:negative"`): from `atMs` after the generator starts, for
 * `durationMs` (default one minute), the brand is `factor` times as likely to be picked and, with a
 * sentiment, its posts have that sentiment.
 */
export interface Spike {
  brand: string;
  atMs: number;
  durationMs: number;
  factor: number;
  sentiment: 'negative' | 'neutral' | 'positive' | undefined;
}

function duration(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text.trim());
  if (!m) throw new RangeError(`--spike: ${what} "${text}" must be a duration like 90s, 2m or 500ms`);
  return Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : 60_000);
}

/** Parses `BRAND:AT:FACTORx[:SENTIMENT[:DURATION]]`, e.g. `Acme Air:60s:8x:negative` or `Globex:2m:5x::30s`. */
export function parseSpike(text: string): Spike {
  const [brand, at, factor, sentiment, dur] = text.split(':');
  const b = BRANDS.find((x) => x.toLowerCase() === (brand ?? '').trim().toLowerCase());
  if (!b) throw new RangeError(`--spike: unknown brand "${brand ?? ''}"; the generator's brands are ${BRANDS.join(', ')}`);
  const f = /^(\d+(?:\.\d+)?)x$/.exec((factor ?? '').trim());
  if (!f || Number(f[1]) < 1) throw new RangeError(`--spike: factor "${factor ?? ''}" must look like 8x (at least 1x)`);
  const s = (sentiment ?? '').trim();
  if (s !== '' && s !== 'negative' && s !== 'neutral' && s !== 'positive') throw new RangeError(`--spike: sentiment "${s}" must be negative, neutral or positive`);
  return { brand: b, atMs: duration(at ?? '', 'start'), durationMs: dur ? duration(dur, 'duration') : 60_000, factor: Number(f[1]), sentiment: s === '' ? undefined : s };
}

export class PostGenerator {
  readonly #rand: () => number;
  #n = 0;
  readonly #prefix: string;
  readonly #spike: Spike | undefined;
  readonly #clock: () => number;
  readonly #started: number;

  constructor(seed = 42, idPrefix = 'gen', options: { spike?: Spike | undefined; clock?: () => number } = {}) {
    this.#rand = prng(seed);
    this.#prefix = idPrefix;
    this.#spike = options.spike;
    this.#clock = options.clock ?? Date.now;
    this.#started = this.#clock();
  }

  /** The spike in force now, if any. */
  #activeSpike(): Spike | undefined {
    const s = this.#spike;
    if (!s) return undefined;
    const t = this.#clock() - this.#started;
    return t >= s.atMs && t < s.atMs + s.durationMs ? s : undefined;
  }

  /** A brand index: uniform, or weighted towards the spiking brand. */
  #brand(spike: Spike | undefined): number {
    if (!spike) return Math.floor(this.#rand() * BRANDS.length);
    const hot = BRANDS.indexOf(spike.brand);
    const total = BRANDS.length - 1 + spike.factor;
    let r = this.#rand() * total;
    if (r < spike.factor) return hot;
    r -= spike.factor;
    const other = Math.floor(r);
    return other >= hot ? other + 1 : other;
  }

  #pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.#rand() * list.length)] as T;
  }

  next(): GeneratedPost {
    const spike = this.#activeSpike();
    const b = this.#brand(spike);
    const r = this.#rand();
    const forced = spike && BRANDS[b] === spike.brand ? spike.sentiment : undefined;
    const pool = forced === 'negative' ? NEGATIVE : forced === 'neutral' ? NEUTRAL : forced === 'positive' ? POSITIVE : r < 0.4 ? NEGATIVE : r < 0.75 ? NEUTRAL : POSITIVE;
    const template = this.#pick(pool);
    let text = template.replace('{b}', BRANDS[b] as string).replace('{h}', HANDLES[b] as string);
    // Some posts are longer: a clause or two of context in front.
    const extra = this.#rand();
    if (extra > 0.7) text = `${this.#pick(FILLER)} ${text}`;
    if (extra > 0.93) text = `${this.#pick(FILLER)} ${this.#pick(FILLER).toLowerCase()} ${text}`;
    text += this.#pick(TAILS);
    if (this.#rand() < 0.1) text = text.toUpperCase();
    return { id: `${this.#prefix}-${++this.#n}`, text, brand: BRANDS[b] as string, ts: this.#clock() };
  }
}
