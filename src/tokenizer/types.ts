// The one tokenizer interface the server, generate and the bench's text prompts use, whatever reads
// the vocabulary underneath (HF tokenizer.json, or GPT-2's r50k for GPT-2 models without one).
export interface TextTokenizer {
  /** What it is, for logs and /health: "tokenizer.json in DIR" or "r50k_base (GPT-2 BPE)". */
  readonly description: string;
  /** Ids this tokenizer can produce are in [0, vocabSize). */
  readonly vocabSize: number;
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  readonly eosTokenId: number | null;
  /** tokenizer_config.json's chat_template (or chat_template.jinja), else null. */
  readonly chatTemplate: string | null;
  /** Text -> ids; addSpecialTokens adds what the tokenizer's post-processor adds (e.g. BOS). */
  encode(text: string, addSpecialTokens?: boolean): number[];
  /** Ids -> text; special tokens are left out unless skipSpecialTokens is false. */
  decode(ids: readonly number[], skipSpecialTokens?: boolean): string;
  /** One token's own text (special tokens included), for logprobs. */
  tokenText(id: number): string;
  /** One token's bytes (a byte-level token can be part of a UTF-8 character), for chat logprobs. */
  tokenBytes(id: number): number[];
}
