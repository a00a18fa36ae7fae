package corpus

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// fill replaces every {key} in tpl by v[key]; {key^} capitalises the value.
func fill(tpl string, v map[string]string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(tpl, '{')
		if i < 0 {
			b.WriteString(tpl)
			return b.String()
		}
		j := strings.IndexByte(tpl[i:], '}')
		if j < 0 {
			panic("corpus: unclosed slot in " + tpl) // templates are constants
		}
		b.WriteString(tpl[:i])
		key := tpl[i+1 : i+j]
		up := strings.HasSuffix(key, "^")
		key = strings.TrimSuffix(key, "^")
		val, ok := v[key]
		if !ok {
			panic("corpus: unknown slot {" + key + "}")
		}
		if up {
			val = capitalize(val)
		}
		b.WriteString(val)
		tpl = tpl[i+j+1:]
	}
}

func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

// article returns "a" or "an" for the word w.
func article(w string) string {
	if w != "" && strings.ContainsRune("aeiou", rune(w[0])) {
		return "an"
	}
	return "a"
}

// slots draws the values of one general story.
func slots(r *rng) map[string]string {
	hero := pickPerson(r)
	friend := pickPerson(r, hero.name)
	pl := pick(r, places)
	obj := pick(r, objects)
	col := pick(r, colours)
	size := pick(r, sizes)
	animal := pick(r, animals)
	v := map[string]string{
		"N": hero.name, "S": hero.sub, "O": hero.obj, "P": hero.pos, "kind": hero.kind,
		"F": friend.name, "FS": friend.sub, "FO": friend.obj, "FP": friend.pos, "fkind": friend.kind,
		"place": pl.name, "prep": pl.prep, "place2": pick(r, places).name,
		"obj": obj, "col": col, "size": size, "aobj": article(size) + " " + size + " " + col + " " + obj,
		"mood": pick(r, moods), "mood2": pick(r, moods),
		"animal": animal, "aanimal": article(animal) + " " + animal,
		"food": pick(r, foods), "weather": pick(r, weathers), "time": pick(r, times), "day": pick(r, days),
		"rel": pick(r, relatives), "hobby": pick(r, hobbies), "trait": pick(r, traits), "trait2": pick(r, traits),
		"sound": pick(r, sounds), "game": pick(r, games), "num": pick(r, []string{"two", "three", "four", "five", "six", "seven"}),
		"age": pick(r, []string{"five", "six", "seven", "eight", "nine", "ten"}),
	}
	v["atrait"] = article(v["trait"]) + " " + v["trait"]
	// In a fixed order: every draw advances the stream.
	for _, kv := range []struct {
		k    string
		list []string
	}{{"tree", trees}, {"flower", flowers}, {"smell", smells}, {"move", moves}, {"adv", adverbs},
		{"ground", grounds}, {"job", jobs}, {"noise", noises}, {"cloud", clouds}} {
		v[kv.k] = pick(r, kv.list)
	}
	return v
}

var openings = [][]string{
	{"Once upon a time, there was {atrait} {kind} named {N}.", "{S^} lived near the {place} with {P} {rel}."},
	{"{N} was {age} years old and loved {hobby}.", "Every {day}, {S} went to the {place} with {P} {rel}."},
	{"It was a {weather} {time}, and {N} was {prep} the {place}."},
	{"In a little town, there lived {atrait} {kind} called {N}.", "{S^} had {aobj} that {S} carried everywhere."},
	{"{N} woke up early one {time}.", "The sky was {weather}, and {S} felt {mood}."},
	{"Not far from the {place}, {N} and {P} friend {F} were playing {game}."},
	{"One {weather} {day}, {N} could not stop thinking about the {place}.", "\"Can we go today?\" {S} asked {P} {rel}."},
	{"{N} liked {hobby} more than anything.", "{P^} {rel} often said that {S} was very {trait}."},
	{"There once was {aanimal} that lived {prep} the {place}.", "Every {time}, {N} came to visit it."},
	{"The {place} was quiet that {time}.", "Only {N} was there, holding {aobj}."},
	{"Long ago, in a village by the sea, a {kind} named {N} had a dream.", "{S^} wanted to see the {place2} one day."},
	{"\"Today is going to be a good day,\" said {N}.", "{S^} put on {P} coat and walked to the {place}."},
}

var events = [][]string{
	{"{N} found {aobj} under a tree.", "\"Who does this belong to?\" {S} wondered.", "{S^} decided to keep it safe until someone came looking for it."},
	{"Suddenly, {N} heard {sound}.", "{S^} looked around and saw {aanimal} hiding behind a rock.", "The {animal} looked {mood}, so {N} sat down and waited."},
	{"{F} came running up the path.", "\"{N}, look what I have!\" {FS} shouted.", "{FS^} held up {aobj}.", "\"It is beautiful,\" said {N}."},
	{"Then the weather changed.", "The wind grew strong, and the sky turned dark.", "{N} and {F} ran to find a dry place to wait."},
	{"{N} was hungry, so {S} opened {P} bag.", "Inside were some {food} that {P} {rel} had packed.", "{S^} shared them with {F}, and they both smiled."},
	{"On the way home, {N} lost {P} {obj}.", "{S^} looked everywhere, but it was gone.", "{S^} felt {mood} and sat down on a bench."},
	{"{F} had an idea.", "\"Let us play {game},\" {FS} said.", "They played until the sun was low, laughing the whole time."},
	{"An old man was sitting {prep} the {place}.", "\"Can you help me?\" he asked.", "{N} nodded and helped him carry his bags.", "\"Thank you, little one,\" he said."},
	{"{N} wanted to make something special.", "{S^} used paper, glue and string to build a {size} {obj}.", "It took {num} hours, but {S} did not give up."},
	{"{aanimal^} ran past {N} and into the bushes.", "{S^} followed it, step by step.", "Behind the bushes, {S} found a path {S} had never seen before."},
	{"\"Why is the sky {col} today?\" asked {N}.", "{P^} {rel} laughed.", "\"The sky is full of surprises,\" {rel} said."},
	{"{N} and {F} counted {num} birds on the fence.", "\"I think they are waiting for something,\" said {F}.", "They waited too, very still and very quiet."},
	{"At lunch, {N} ate {food} with {P} {rel}.", "They talked about the {place2} and the {animal} they saw last week."},
	{"{N} tried to climb the big tree.", "The first time, {S} slipped.", "The second time, {S} slipped again.", "The third time, {S} reached the top and saw the whole {place}."},
	{"It began to rain.", "{N} opened {P} umbrella, but the wind pulled it away.", "{F} caught it just in time."},
	{"{N} told {F} a secret.", "\"Sometimes I feel {mood2} when I am alone,\" {S} said.", "{F} held {P} hand.", "\"You are never alone,\" {FS} said."},
}

var endings = [][]string{
	{"In the end, {N} went home {mood} and tired.", "That night, {S} dreamed about the {place}."},
	{"From that day on, {N} and {F} were the best of friends."},
	{"{N} learned that being {trait} is better than being fast."},
	{"When the sun went down, {N} walked home.", "{S^} could not wait to tell {P} {rel} everything."},
	{"\"What a day,\" said {N}, and {S} smiled.", "Then {S} fell asleep."},
	{"The next {day}, {N} came back to the {place}.", "{S^} brought {food} for the {animal}, and it was waiting."},
	{"And so {N} found out that the {place} was full of wonders.", "{S^} never forgot that {weather} {time}."},
	{"{N} gave the {obj} to {F}.", "\"Keep it,\" {S} said.", "{F} hugged {O}, and they both laughed."},
	{"Everyone was {mood} at dinner that night.", "{N} told the story again and again."},
	{"That was the day {N} stopped being afraid of the dark."},
}

// details are sentences that may follow any paragraph.
var details = []string{
	"The {place} was full of {flower} and tall {tree} trees.",
	"{N} {move} {adv} across the {ground}.",
	"A {job} waved at {O} from across the street.",
	"The air smelled of {smell}.",
	"{S^} could hear {noise} in the distance.",
	"One cloud looked just like {cloud}.",
	"{P^} shoes were wet, but {S} did not mind.",
	"Somewhere, {aanimal} was watching.",
	"The {job} had told {O} about this place once.",
	"{F} {move} after {O}, laughing.",
	"Time seemed to move {adv} that {time}.",
	"{S^} picked a few {flower} for {P} {rel}.",
	"The old {tree} tree creaked in the wind.",
	"Far away, {noise} could be heard.",
}

// story builds general story number index of the stream seed.
func story(seed uint64, index int) string {
	r := newRNG(seed, "stories", index)
	v := slots(r)
	var paras []string
	para := func(sents []string) {
		out := make([]string, len(sents), len(sents)+1)
		for i, s := range sents {
			out[i] = fill(s, v)
		}
		if r.chance(2, 5) {
			out = append(out, fill(pick(r, details), v))
		}
		paras = append(paras, strings.Join(out, " "))
	}
	para(pick(r, openings))
	evs := make([]int, len(events))
	for i := range evs {
		evs[i] = i
	}
	shuffle(r, evs)
	k := 1 + r.intn(3)
	for i := range k {
		ev := events[evs[i]]
		// Events sometimes share a paragraph, sometimes keep only their start.
		if len(ev) > 2 && r.chance(1, 4) {
			ev = ev[:len(ev)-1]
		}
		if i > 0 && r.chance(1, 3) {
			last := paras[len(paras)-1]
			paras = paras[:len(paras)-1]
			para(ev)
			paras[len(paras)-1] = last + " " + pick(r, []string{"Later, ", "After that, ", "Then ", "Soon, "}) + lowerFirst(paras[len(paras)-1])
			continue
		}
		para(ev)
	}
	para(pick(r, endings))
	return strings.Join(paras, "\n\n")
}

// lowerFirst lowercases the first letter unless the sentence starts with a
// name or a quotation.
func lowerFirst(s string) string {
	w, _, _ := strings.Cut(s, " ")
	w = strings.Trim(w, ",.!?\"")
	for _, n := range names {
		if w == n {
			return s
		}
	}
	if strings.HasPrefix(s, "\"") {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToLower(r)) + s[n:]
}

// Stories returns n general short stories from the stream seed: two to
// five paragraphs each, separated by blank lines. Story i is the same for
// every n > i.
func Stories(seed uint64, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = story(seed, i)
	}
	return out
}
