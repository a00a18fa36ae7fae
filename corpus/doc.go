// Package corpus generates the quickstart's data: simple English short
// stories for pre-training hone's small base model and for the forgetting
// probe (Stories), and the fine-tuning task "extract the facts of a story as
// JSON" (Extraction, Schema). Everything is a pure function of a seed: the
// generator is a hand-written SplitMix64 stream (math/rand/v2 documents no
// promise that IntN and Shuffle keep their outputs across Go releases), so
// the committed files under examples/quickstart regenerate byte for byte.
//
// The stories are built from a small grammar of sentence shapes (openings,
// events, dialogue, endings) filled from word lists of names, places,
// objects, colours, moods, animals, foods, weather and verbs, and arranged
// in two to five paragraphs, so that a small model learns English rather
// than a handful of templates. Extraction stories are shorter and state
// each of their five facts exactly once, in one of several phrasings; no
// other value of any of the five fields appears in them.
//
// No library fits: text generators such as TinyStories are data sets made
// by large models, not seeded generators that can ship in the repository.
package corpus
