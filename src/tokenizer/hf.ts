// A model directory's own tokenizer: tokenizer.json read by @huggingface/tokenizers (a pure-JS
// implementation of HF tokenizers), with tokenizer_config.json for special tokens and the chat
// template (or chat_template.jinja beside it, where newer transformers put it).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { z } from "zod";
import type { TextTokenizer } from "./types.js";

// A special token is a string or an AddedToken object ({"content": ...}).
const SpecialToken = z.union([z.string(), z.object({ content: z.string() }).passthrough()]).nullish();
const ConfigSchema = z
  .object({
    bos_token: SpecialToken,
    eos_token: SpecialToken,
    chat_template: z.union([z.string(), z.array(z.object({ name: z.string(), template: z.string() }))]).nullish(),
  })
  .passthrough();

const tokenString = (t: z.infer<typeof SpecialToken>): string | null => (t == null ? null : typeof t === "string" ? t : t.content);

/** GPT-2's byte <-> printable-character map (bytes_to_unicode), inverted: how byte-level BPE spells bytes. */
let byteOfChar: Map<string, number> | null = null;
function byteLevelDecoder(): Map<string, number> {
  if (byteOfChar) return byteOfChar;
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const m = new Map<string, number>();
  let extra = 0;
  for (let b = 0; b < 256; b++) m.set(String.fromCodePoint(printable(b) ? b : 256 + extra++), b);
  return (byteOfChar = m);
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
}

export function hasHfTokenizer(dir: string): boolean {
  return existsSync(join(dir, "tokenizer.json"));
}

export function loadHfTokenizer(dir: string): TextTokenizer {
  const tokenizerJson = readJson(join(dir, "tokenizer.json")) as { model?: { type?: string }; decoder?: { type?: string } | null };
  const configPath = join(dir, "tokenizer_config.json");
  const rawConfig = existsSync(configPath) ? readJson(configPath) : {};
  const parsed = ConfigSchema.safeParse(rawConfig);
  if (!parsed.success) throw new Error(`${configPath}: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  const config = parsed.data;
  let chatTemplate: string | null = null;
  if (typeof config.chat_template === "string") chatTemplate = config.chat_template;
  else if (Array.isArray(config.chat_template)) chatTemplate = config.chat_template.find((t) => t.name === "default")?.template ?? null;
  const jinjaPath = join(dir, "chat_template.jinja");
  if (chatTemplate === null && existsSync(jinjaPath)) chatTemplate = readFileSync(jinjaPath, "utf8");

  let tok: Tokenizer;
  try {
    tok = new Tokenizer(tokenizerJson, rawConfig as object);
  } catch (err) {
    throw new Error(`${join(dir, "tokenizer.json")}: not a tokenizer this library reads: ${(err as Error).message}`);
  }
  const vocab = tok.get_vocab(true);
  const vocabSize = Math.max(...vocab.values()) + 1;
  const bosToken = tokenString(config.bos_token);
  const eosToken = tokenString(config.eos_token);
  const byteLevel = tokenizerJson.decoder?.type === "ByteLevel";
  const special = new Set([...tok.get_added_tokens_decoder()].filter(([, t]) => t.special).map(([id]) => id));
  return {
    description: `tokenizer.json in ${dir}`,
    vocabSize,
    bosToken,
    eosToken,
    eosTokenId: eosToken === null ? null : (tok.token_to_id(eosToken) ?? null),
    chatTemplate,
    encode: (text, addSpecialTokens = false) => (text === "" && !addSpecialTokens ? [] : tok.encode(text, { add_special_tokens: addSpecialTokens }).ids),
    decode: (ids, skipSpecialTokens = true) => (ids.length === 0 ? "" : tok.decode([...ids], { skip_special_tokens: skipSpecialTokens })),
    tokenText: (id) => tok.decode([id], { skip_special_tokens: false }),
    tokenBytes: (id) => {
      const piece = tok.id_to_token(id) ?? "";
      if (!byteLevel || special.has(id)) return [...Buffer.from(tok.decode([id], { skip_special_tokens: false }))];
      const map = byteLevelDecoder();
      return [...piece].map((ch) => map.get(ch) ?? 0x3f);
    },
  };
}
