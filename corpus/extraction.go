package corpus

import (
	"bytes"
	"encoding/json"
	"strings"
)

// SystemPrompt is the system message of every extraction example.
const SystemPrompt = "Extract the facts of the story as JSON."

// Facts are what an extraction story states: the main character's name,
// the place, the object, the object's colour and the character's mood.
// Marshalled, the keys come in this order.
type Facts struct {
	Name   string `json:"name"`
	Place  string `json:"place"`
	Object string `json:"object"`
	Colour string `json:"colour"`
	Mood   string `json:"mood"`
}

// JSON returns the facts as compact JSON with the fixed key order
// name, place, object, colour, mood.
func (f Facts) JSON() string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(f); err != nil {
		panic(err) // a struct of strings always encodes
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// Example is one extraction example: a short story and its facts.
type Example struct {
	Story string
	Facts Facts
}

// Message is one chat message of the JSONL chat format.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Messages returns the example as a chat: the system prompt, the story as
// the user's message, and the facts' JSON as the assistant's answer.
func (e Example) Messages() []Message {
	return []Message{
		{Role: "system", Content: SystemPrompt},
		{Role: "user", Content: e.Story},
		{Role: "assistant", Content: e.Facts.JSON()},
	}
}

// The sentence shapes of extraction stories. Only the fact slots carry
// values of the five fields; the rest uses words outside every word list.
var (
	// introsWithPlace name the character and the place.
	introsWithPlace = []string{
		"{N} went to the {place} one {when}.",
		"One {when}, {N} was {prep} the {place}.",
		"{N} spent the whole {when} {prep} the {place}.",
		"This is a story about {N}, a {kind} who went to the {place}.",
	}
	// intros name the character only.
	intros = []string{
		"This is a story about a {kind} named {N}.",
		"{N} had a busy {when}.",
		"There was once a {kind} called {N}.",
		"Everyone in town knew {N}.",
		"Let me tell you about {N}.",
	}
	placeLines = []string{
		"{S^} spent the {when} {prep} the {place}.",
		"The {place} was where {S} liked to go.",
		"{S^} walked all the way to the {place}.",
		"That day {S} visited the {place}.",
		"{S^} ended up {prep} the {place} before lunch.",
	}
	objectLines = []string{
		"{S^} had {acol} {obj}.",
		"{S^} found {acol} {obj} on the ground.",
		"{S^} was carrying {P} {obj}. It was {col}.",
		"{P^} favourite thing was {aobj}, and its colour was {col}.",
		"Someone had left {aobj} there. The {obj} was {col}.",
		"{S^} held up {acol} {obj} for everyone to see.",
		"In {P} hands was {aobj}, painted {col}.",
	}
	moodLines = []string{
		"{N} felt {mood}.",
		"{S^} was feeling {mood}.",
		"It made {O} feel {mood}.",
		"\"I am so {mood},\" said {N}.",
		"{P^} mood was {mood} all day.",
		"{N} looked {mood}.",
		"Anyone could see that {N} was {mood}.",
		"{S^} was very {mood} about it.",
	}
	fillers = []string{
		"The sun was shining.",
		"A bird sang in a tree nearby.",
		"{S^} sat down for a while.",
		"The day went by slowly.",
		"Then {S} went home.",
		"{S^} thought about it for a long time.",
		"Nothing else happened that day.",
		"{S^} told {P} family about it later.",
		"Soon it was time for dinner.",
		"There were many people around.",
	}
	whens = []string{"morning", "afternoon", "evening", "weekend"}
)

// extraction builds extraction example number index of the stream seed.
func extraction(seed uint64, index int) Example {
	r := newRNG(seed, "extraction", index)
	p := pickPerson(r)
	pl := pick(r, places)
	f := Facts{Name: p.name, Place: pl.name, Object: pick(r, objects), Colour: pick(r, colours), Mood: pick(r, moods)}
	v := map[string]string{
		"N": p.name, "S": p.sub, "O": p.obj, "P": p.pos, "kind": p.kind,
		"place": pl.name, "prep": pl.prep, "when": pick(r, whens),
		"obj": f.Object, "aobj": article(f.Object) + " " + f.Object,
		"col": f.Colour, "acol": article(f.Colour) + " " + f.Colour, "mood": f.Mood,
	}
	var first string
	objLine := pick(r, objectLines)
	body := []string{objLine}
	if r.chance(1, 2) {
		first = pick(r, introsWithPlace)
	} else {
		first = pick(r, intros)
		body = append(body, pick(r, placeLines))
	}
	fl := make([]string, len(fillers))
	copy(fl, fillers)
	shuffle(r, fl)
	body = append(body, fl[:r.intn(3)]...)
	shuffle(r, body)
	// The mood comes after the object, which it may refer to ("It made
	// her feel proud").
	at := 0
	for i, s := range body {
		if s == objLine {
			at = i + 1
		}
	}
	at += r.intn(len(body) - at + 1)
	body = append(body[:at], append([]string{pick(r, moodLines)}, body[at:]...)...)
	sents := []string{fill(first, v)}
	for _, s := range body {
		sents = append(sents, fill(s, v))
	}
	text := strings.Join(sents, " ")
	if len(sents) > 3 && r.chance(1, 3) {
		cut := 2 + r.intn(len(sents)-2)
		text = strings.Join(sents[:cut], " ") + "\n\n" + strings.Join(sents[cut:], " ")
	}
	return Example{Story: text, Facts: f}
}

// Extraction returns n extraction examples from the stream seed, with no
// story given twice. Example i is the same for every n > i.
func Extraction(seed uint64, n int) []Example {
	out := make([]Example, 0, n)
	seen := map[string]bool{}
	for i := 0; len(out) < n; i++ {
		e := extraction(seed, i)
		if seen[e.Story] {
			continue
		}
		seen[e.Story] = true
		out = append(out, e)
	}
	return out
}

// Schema returns the JSON Schema (draft 2020-12) of the facts: an object
// with exactly the five keys, all required; place, object, colour and mood
// are enums of the generator's words, the name a capitalised word.
func Schema() []byte {
	type obj = map[string]any
	enum := func(desc string, values []string) obj {
		return obj{"type": "string", "description": desc, "enum": values}
	}
	placeNames := make([]string, len(places))
	for i, p := range places {
		placeNames[i] = p.name
	}
	s := obj{
		"$schema":     "https://json-schema.org/draft/2020-12/schema",
		"$id":         "https://hone.invalid/quickstart/story-facts.schema.json",
		"title":       "Story facts",
		"description": "The facts a short story states about its main character.",
		"type":        "object",
		"properties": obj{
			"name":   obj{"type": "string", "description": "The main character's name.", "pattern": "^[A-Z][a-z]+$"},
			"place":  enum("Where the story happens.", placeNames),
			"object": enum("The object the character has, finds or holds.", objects),
			"colour": enum("The colour of the object.", colours),
			"mood":   enum("How the character feels.", moods),
		},
		"required":             []string{"name", "place", "object", "colour", "mood"},
		"additionalProperties": false,
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		panic(err) // maps of strings always encode
	}
	return b.Bytes()
}
