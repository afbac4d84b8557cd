// The per-brand boolean query: the subset of Talkwalker/Brandwatch syntax that monitoring teams write most.
//
//   query   := or
//   or      := and ( "OR" and )*
//   and     := unary ( ["AND"] unary )*      adjacent terms are an implicit AND: `kestrel outage` = `kestrel AND outage`
//   unary   := "NOT" unary | primary
//   primary := TERM | "quoted phrase" | "(" or ")"
//
// Precedence, loosest first: OR, AND (explicit or implicit), NOT. Operators are upper case only, as in
// Brandwatch, so the word "and" in lower case is an ordinary term. A TERM is a run of characters other than
// whitespace, parentheses and double quotes ("#kestrel", "@KestrelTel", "5g"). Terms and phrases match like
// aliases: whole words, same normalization (matcher.ts), so the query is evaluated from the matcher's one
// Aho–Corasick pass and never by a regex per term.

export type QueryNode =
  | { readonly type: 'term'; readonly value: string; readonly phrase: boolean; readonly position: number }
  | { readonly type: 'and'; readonly children: readonly QueryNode[] }
  | { readonly type: 'or'; readonly children: readonly QueryNode[] }
  | { readonly type: 'not'; readonly child: QueryNode };

/** A query that does not parse: `position` is the 0-based character offset where `expected` was not found. */
export class QuerySyntaxError extends Error {
  constructor(
    readonly position: number,
    readonly expected: string,
    readonly found: string,
  ) {
    super(`at position ${position}: expected ${expected}, found ${found}`);
    this.name = 'QuerySyntaxError';
  }
}

type Token =
  | { kind: 'term'; value: string; pos: number }
  | { kind: 'phrase'; value: string; pos: number }
  | { kind: 'and' | 'or' | 'not' | 'lparen' | 'rparen'; pos: number }
  | { kind: 'end'; pos: number };

function describe(t: Token): string {
  switch (t.kind) {
    case 'term':
      return `term "${t.value}"`;
    case 'phrase':
      return `phrase "${t.value}"`;
    case 'end':
      return 'end of query';
    case 'lparen':
      return '"("';
    case 'rparen':
      return '")"';
    default:
      return t.kind.toUpperCase();
  }
}

function tokenize(q: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < q.length) {
    const ch = q[i] as string;
    if (/\s/u.test(ch)) {
      i++;
    } else if (ch === '(' || ch === ')') {
      tokens.push({ kind: ch === '(' ? 'lparen' : 'rparen', pos: i });
      i++;
    } else if (ch === '"') {
      const close = q.indexOf('"', i + 1);
      if (close < 0) throw new QuerySyntaxError(q.length, 'a closing double quote for the phrase opened at ' + i, 'end of query');
      const value = q.slice(i + 1, close).trim();
      if (value === '') throw new QuerySyntaxError(i, 'a non-empty phrase', 'an empty one');
      tokens.push({ kind: 'phrase', value, pos: i });
      i = close + 1;
    } else {
      const start = i;
      while (i < q.length && !/[\s()"]/u.test(q[i] as string)) i++;
      const word = q.slice(start, i);
      if (word === 'AND' || word === 'OR' || word === 'NOT') tokens.push({ kind: word.toLowerCase() as 'and' | 'or' | 'not', pos: start });
      else tokens.push({ kind: 'term', value: word, pos: start });
    }
  }
  tokens.push({ kind: 'end', pos: q.length });
  return tokens;
}

const kOperand = 'a term, a "phrase", "(" or NOT';

/** Parses a query into an AST; throws QuerySyntaxError naming the position and what was expected. */
export function parseQuery(query: string): QueryNode {
  const tokens = tokenize(query);
  let k = 0;
  const peek = (): Token => tokens[k] as Token;
  const startsOperand = (t: Token): boolean => t.kind === 'term' || t.kind === 'phrase' || t.kind === 'lparen' || t.kind === 'not';

  const parseOr = (): QueryNode => {
    const children = [parseAnd()];
    while (peek().kind === 'or') {
      k++;
      children.push(parseAnd());
    }
    return children.length === 1 ? (children[0] as QueryNode) : { type: 'or', children };
  };
  const parseAnd = (): QueryNode => {
    const children = [parseUnary()];
    for (;;) {
      const t = peek();
      if (t.kind === 'and') {
        k++;
        children.push(parseUnary());
      } else if (startsOperand(t)) {
        children.push(parseUnary()); // implicit AND
      } else break;
    }
    return children.length === 1 ? (children[0] as QueryNode) : { type: 'and', children };
  };
  const parseUnary = (): QueryNode => {
    if (peek().kind === 'not') {
      k++;
      return { type: 'not', child: parseUnary() };
    }
    return parsePrimary();
  };
  const parsePrimary = (): QueryNode => {
    const t = peek();
    if (t.kind === 'term' || t.kind === 'phrase') {
      k++;
      return { type: 'term', value: t.value, phrase: t.kind === 'phrase', position: t.pos };
    }
    if (t.kind === 'lparen') {
      k++;
      const inner = parseOr();
      const close = peek();
      if (close.kind !== 'rparen') throw new QuerySyntaxError(close.pos, `")" to close the "(" at position ${t.pos}`, describe(close));
      k++;
      return inner;
    }
    throw new QuerySyntaxError(t.pos, kOperand, describe(t));
  };

  const ast = parseOr();
  const rest = peek();
  if (rest.kind !== 'end') throw new QuerySyntaxError(rest.pos, 'AND, OR or the end of the query', describe(rest));
  return ast;
}

/** Evaluates the AST; `has(term)` says whether a term or phrase (as written in the query) occurs in the post. */
export function evaluateQuery(node: QueryNode, has: (value: string) => boolean): boolean {
  switch (node.type) {
    case 'term':
      return has(node.value);
    case 'and':
      return node.children.every((c) => evaluateQuery(c, has));
    case 'or':
      return node.children.some((c) => evaluateQuery(c, has));
    case 'not':
      return !evaluateQuery(node.child, has);
  }
}

/** Every term and phrase in the query (matcher.ts puts them all in its automaton). */
export function queryTerms(node: QueryNode): string[] {
  const out = new Set<string>();
  const walk = (n: QueryNode): void => {
    if (n.type === 'term') out.add(n.value);
    else if (n.type === 'not') walk(n.child);
    else n.children.forEach(walk);
  };
  walk(node);
  return [...out];
}

/** Terms not under a NOT (an even number of NOTs): their occurrences can stand in for aliases as mentions. */
export function positiveTerms(node: QueryNode): string[] {
  const out = new Set<string>();
  const walk = (n: QueryNode, negated: boolean): void => {
    if (n.type === 'term') {
      if (!negated) out.add(n.value);
    } else if (n.type === 'not') walk(n.child, !negated);
    else n.children.forEach((c) => walk(c, negated));
  };
  walk(node, false);
  return [...out];
}
