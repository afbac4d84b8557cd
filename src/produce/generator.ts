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

export class PostGenerator {
  readonly #rand: () => number;
  #n = 0;
  readonly #prefix: string;

  constructor(seed = 42, idPrefix = 'gen') {
    this.#rand = prng(seed);
    this.#prefix = idPrefix;
  }

  #pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.#rand() * list.length)] as T;
  }

  next(): GeneratedPost {
    const b = Math.floor(this.#rand() * BRANDS.length);
    const r = this.#rand();
    const template = this.#pick(r < 0.4 ? NEGATIVE : r < 0.75 ? NEUTRAL : POSITIVE);
    let text = template.replace('{b}', BRANDS[b] as string).replace('{h}', HANDLES[b] as string);
    // Some posts are longer: a clause or two of context in front.
    const extra = this.#rand();
    if (extra > 0.7) text = `${this.#pick(FILLER)} ${text}`;
    if (extra > 0.93) text = `${this.#pick(FILLER)} ${this.#pick(FILLER).toLowerCase()} ${text}`;
    text += this.#pick(TAILS);
    if (this.#rand() < 0.1) text = text.toUpperCase();
    return { id: `${this.#prefix}-${++this.#n}`, text, brand: BRANDS[b] as string, ts: Date.now() };
  }
}
