// Drafts for speculative decoding by prompt lookup: what a summary, an extraction or an answer
// writes next is often already in the document, so the tokens that followed the last occurrence
// of the text's latest few tokens are a cheap guess at the next ones. One forward pass checks
// the whole guess (index.mjs), so every guessed token that proves right saves a decode step, and
// the output is the one decoding token by token gives: a guess is kept only where the model,
// sampling with the same random number, picks it.

// The longest n-gram looked up; shorter ones down to minNgram are tried if it does not occur.
const MAX_NGRAM = 4;

// {guess, ngram}: `limit` tokens that followed the most recent earlier occurrence of the last
// `ngram` tokens of `tokens` (from MAX_NGRAM down to minNgram; the longest match wins), or no
// guess and ngram 0 if none occurs. A match that runs into the end continues with its own guess:
// a text that repeats itself (a loop of a few tokens, a list item written again) is guessed as
// repeating on.
export function lookupDraft(tokens, limit, minNgram) {
  const end = tokens.length;
  for (let n = Math.min(MAX_NGRAM, end - 1); n >= minNgram; n--) {
    for (let start = end - n - 1; start >= 0; start--) {
      if (!endsWith(tokens, start, n)) continue;
      const guess = [];
      for (let i = start + n; guess.length < limit; i++) guess.push(i < end ? tokens[i] : guess[i - end]);
      return { guess, ngram: n };
    }
  }
  return { guess: [], ngram: 0 };
}

// Whether tokens[start .. start + n) equals the last n tokens.
function endsWith(tokens, start, n) {
  const offset = tokens.length - n - start;
  for (let i = n - 1; i >= 0; i--) {
    if (tokens[start + i] !== tokens[start + i + offset]) return false;
  }
  return true;
}

// Moving averages' weight of the newest measurement; a closed gate lets one draft pass through
// to measure again once the plain steps since the last have taken PROBE_AFTER times as long as
// a draft pass (so probing costs at most ~1 / PROBE_AFTER where drafts never pay).
const WEIGHT = 0.25;
const PROBE_AFTER = 20;

const average = (old, x) => (old === null ? x : old + WEIGHT * (x - old));

// Whether a draft pays, here and now. A pass that checks a draft costs more than a plain step
// (a little on a large GPU; on an emulated one, or where few-token passes are slow, several
// times as much), and pays only where enough of its tokens are kept: that depends on the text
// and on the match the draft came from (SmolLM2 summarizing, greedy: a draft from a 1-token
// match kept 2.8 tokens on average, from a 4-token match 9.4). Both are measured as generation
// goes (one gate per loaded model, so what one call learns the next starts from): a draft goes
// while the tokens a pass keeps from matches of its length, per millisecond, are at least a
// plain step's.
export class DraftGate {
  constructor() {
    this.plainMs = null;
    this.draftMs = null;
    this.keptByNgram = new Array(MAX_NGRAM + 1).fill(null);
    this.plainMsSince = 0;
  }

  // Open until a draft pass has been timed, then closed until a plain step has been too; open
  // for a match length not tried yet.
  opens(ngram) {
    if (this.draftMs === null) return true;
    if (this.plainMs === null) return false;
    const kept = this.keptByNgram[ngram];
    return kept === null || kept * this.plainMs >= this.draftMs || this.plainMsSince >= PROBE_AFTER * this.draftMs;
  }

  plainStep(ms) {
    this.plainMs = average(this.plainMs, ms);
    this.plainMsSince += ms;
  }

  draftPass(ms, ngram, kept) {
    this.draftMs = average(this.draftMs, ms);
    this.keptByNgram[ngram] = average(this.keptByNgram[ngram], kept);
    this.plainMsSince = 0;
  }
}
