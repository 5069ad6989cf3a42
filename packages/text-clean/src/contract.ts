/**
 * text-clean's file contract, browser-safe: captions.arrow's `caption` column is
 * `<sos> word … <eos>`. These markers are the one definition; the tokenizer keeps them as words,
 * and decoders (train's validation captions, caption, evaluate) look their ids up by them.
 */
export const START_TOKEN = '<sos>';
export const END_TOKEN = '<eos>';
