package corpus

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Records returns n short texts that hold JSON: data records about the
// story world (animals, shops, trips, inventories), compact or indented,
// alone or after a sentence of prose. They give a base model what real
// pre-training data gives it: knowledge of JSON's punctuation and layout,
// so that fine-tuning teaches the discipline of answering only in JSON
// rather than the tokens themselves. None has the extraction task's shape
// (its five keys together, after a story). Record i is the same for every
// n > i.
func Records(seed uint64, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = record(seed, i)
	}
	return out
}

// ordered is a JSON object that keeps its keys in insertion order.
type ordered struct {
	keys []string
	vals map[string]any
}

func obj() *ordered { return &ordered{vals: map[string]any{}} }

func (o *ordered) set(k string, v any) *ordered {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
	return o
}

// MarshalJSON writes the keys in insertion order.
func (o *ordered) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(o.vals[k])
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}

func record(seed uint64, index int) string {
	r := newRNG(seed, "records", index)
	v := slots(r)
	num := func(lo, hi int) int { return lo + r.intn(hi-lo+1) }
	var rec any
	var intro string
	switch r.intn(6) {
	case 0:
		rec = obj().set("animal", v["animal"]).set("colour", v["col"]).set("age", num(1, 12)).set("friendly", r.chance(1, 2))
		intro = "An entry from the zoo's list:"
	case 1:
		items := []any{}
		for k := 0; k < 1+r.intn(4); k++ {
			items = append(items, obj().set("item", pick(r, foods)).set("count", num(1, 20)).set("price", float64(num(5, 99))/10))
		}
		rec = obj().set("shop", pick(r, jobs)+"'s shop").set("day", v["day"]).set("items", items)
		intro = "The receipt said:"
	case 2:
		rec = obj().set("trip", v["place"]).set("with", []string{v["N"], v["F"]}).set("weather", v["weather"]).set("hours", num(1, 9))
		intro = "The class wrote down the trip:"
	case 3:
		inv := obj()
		for k := 0; k < 2+r.intn(4); k++ {
			inv.set(pick(r, objects), num(0, 12))
		}
		rec = obj().set("owner", v["N"]).set("room", pick(r, []string{"attic", "kitchen", "shed", "classroom", "cellar"})).set("things", inv)
		intro = "Here is what was in the room:"
	case 4:
		rec = obj().set("title", "The "+capitalize(v["size"])+" "+capitalize(v["obj"])).set("author", v["F"]).set("pages", num(12, 240)).set("tags", []string{v["hobby"], v["trait"]})
		intro = "The library card read:"
	default:
		rec = obj().set("id", num(100, 999)).set("name", v["N"]).set("job", pick(r, jobs)).set("likes", []string{pick(r, foods), pick(r, games)}).set("score", nil)
		intro = "A line from the club's members file:"
	}
	var body []byte
	if r.chance(1, 2) {
		body, _ = json.MarshalIndent(rec, "", "  ")
	} else {
		body, _ = json.Marshal(rec)
	}
	if r.chance(1, 3) {
		return string(body)
	}
	return intro + "\n" + string(body)
}

// Chats returns n short conversations in which a user asks a question about
// a story and the assistant answers in one plain sentence (never JSON): they
// teach a base model the turns of a chat template and when a turn ends.
// Conversation i is the same for every n > i.
func Chats(seed uint64, n int) [][]Message {
	out := make([][]Message, n)
	for i := range out {
		r := newRNG(seed, "chats", i)
		text := story(seed^0x63686174, i)
		name := firstName(text)
		qa := [][2]string{
			{"Who is this story about?", fmt.Sprintf("The story is about %s.", name)},
			{"Give the story a short title.", fmt.Sprintf("%s's Day", name)},
			{"Did the story end well?", "Yes, it ended well."},
			{"How many paragraphs does the story have?", fmt.Sprintf("It has %d paragraphs.", strings.Count(text, "\n\n")+1)},
			{"Tell me the first sentence of the story.", firstSentence(text)},
		}
		q := qa[r.intn(len(qa))]
		msgs := []Message{}
		if r.chance(1, 2) {
			msgs = append(msgs, Message{Role: "system", Content: pick(r, []string{"You are a helpful assistant.", "Answer briefly.", "You help children with reading."})})
		}
		msgs = append(msgs, Message{Role: "user", Content: text + "\n\n" + q[0]}, Message{Role: "assistant", Content: q[1]})
		out[i] = msgs
	}
	return out
}

func firstName(text string) string {
	for _, w := range strings.FieldsFunc(text, func(r rune) bool { return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') }) {
		for _, n := range names {
			if w == n {
				return n
			}
		}
	}
	return "a child"
}

func firstSentence(text string) string {
	if i := strings.IndexAny(text, ".!?"); i >= 0 {
		return text[:i+1]
	}
	return text
}

// WriteChats writes one {"messages": [...]} line per conversation.
func WriteChats(w io.Writer, chats [][]Message) error {
	for _, c := range chats {
		if err := encodeLine(w, struct {
			Messages []Message `json:"messages"`
		}{c}); err != nil {
			return err
		}
	}
	return nil
}
