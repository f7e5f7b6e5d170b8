// Logprobs in the two OpenAI shapes, from what the engine reported per token.
//   completions (legacy): {tokens, token_logprobs, top_logprobs: [{text: logprob}], text_offset};
//     each top_logprobs entry holds the k alternatives and the sampled token (vLLM: up to k + 1).
//   chat: {content: [{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}] (exactly k)}]}.
import type { TextTokenizer } from "../tokenizer/types.js";
import type { TopPairs } from "./generation.js";

export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: number[];
  top_logprobs: Record<string, number>[] | null;
  text_offset: number[];
}

/** `offset`: where the first token's text starts in the choice's text (after an echoed prompt). */
export function completionLogprobs(tok: TextTokenizer, tokens: readonly number[], lps: readonly number[], tops: readonly TopPairs[], k: number, offset: number): CompletionLogprobs {
  const strings = tokens.map((t) => tok.tokenText(t));
  const text_offset: number[] = [];
  let at = offset;
  for (const s of strings) {
    text_offset.push(at);
    at += s.length;
  }
  const top = tokens.map((t, i) => {
    const entry: Record<string, number> = {};
    for (const [id, lp] of (tops[i] ?? []).slice(0, k)) entry[tok.tokenText(id)] ??= lp;
    entry[strings[i]] ??= lps[i];
    return entry;
  });
  return { tokens: strings, token_logprobs: [...lps], top_logprobs: top, text_offset };
}

export interface ChatTokenLogprob {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: { token: string; logprob: number; bytes: number[] }[];
}

export function chatLogprobs(tok: TextTokenizer, tokens: readonly number[], lps: readonly number[], tops: readonly TopPairs[], k: number): ChatTokenLogprob[] {
  return tokens.map((t, i) => ({
    token: tok.tokenText(t),
    logprob: lps[i],
    bytes: tok.tokenBytes(t),
    top_logprobs: (tops[i] ?? []).slice(0, k).map(([id, lp]) => ({ token: tok.tokenText(id), logprob: lp, bytes: tok.tokenBytes(id) })),
  }));
}
