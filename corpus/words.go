package corpus

// rng is SplitMix64: a fixed, documented sequence for every seed.
type rng struct{ s uint64 }

// newRNG returns the stream for item index of the sequence seeded by seed,
// so that item i does not depend on how many items are asked for.
func newRNG(seed uint64, stream string, index int) *rng {
	h := uint64(14695981039346656037) // FNV-1a of the stream name
	for i := 0; i < len(stream); i++ {
		h ^= uint64(stream[i])
		h *= 1099511628211
	}
	r := &rng{seed ^ h ^ uint64(index)*0x9E3779B97F4A7C15}
	r.next()
	return r
}

func (r *rng) next() uint64 {
	r.s += 0x9E3779B97F4A7C15
	z := r.s
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// intn returns a number in [0, n) (n > 0), without modulo bias worth
// noticing for the small n used here.
func (r *rng) intn(n int) int { return int((r.next() >> 11) % uint64(n)) }

// chance is true with probability num/den.
func (r *rng) chance(num, den int) bool { return r.intn(den) < num }

func pick[T any](r *rng, xs []T) T { return xs[r.intn(len(xs))] }

// shuffle permutes xs (Fisher-Yates).
func shuffle[T any](r *rng, xs []T) {
	for i := len(xs) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		xs[i], xs[j] = xs[j], xs[i]
	}
}

// person is a character with pronouns.
type person struct {
	name, sub, obj, pos, kind string // kind: girl, boy
}

var girls = []string{"Mia", "Lily", "Anna", "Zoe", "Ella", "Priya", "Lucia", "Ava", "Rosa", "Nora",
	"Maya", "Ruby", "Chloe", "Sofia", "Grace", "Hana", "Iris", "Lena", "Nina", "Pia",
	"Sara", "Uma", "Wren", "Yara", "Aisha", "Clara", "Emma", "Holly", "Isla", "Kira", "Mei", "Tess"}

var boys = []string{"Tom", "Ben", "Sam", "Leo", "Max", "Omar", "Kenji", "Noah", "Finn", "Ivan",
	"Hugo", "Theo", "Jack", "Amir", "Eli", "Oscar", "Felix", "Jonah", "Milo", "Owen",
	"Ravi", "Tariq", "Victor", "Zane", "Bruno", "Dev", "Gus", "Jude", "Luca", "Pablo", "Arlo", "Kofi"}

// names lists every name, girls first.
var names = append(append([]string(nil), girls...), boys...)

func pickPerson(r *rng, avoid ...string) person {
	for {
		var p person
		if r.chance(1, 2) {
			p = person{pick(r, girls), "she", "her", "her", "girl"}
		} else {
			p = person{pick(r, boys), "he", "him", "his", "boy"}
		}
		ok := true
		for _, a := range avoid {
			ok = ok && a != p.name
		}
		if ok {
			return p
		}
	}
}

// place is a location and the preposition it takes.
type place struct{ name, prep string }

var places = []place{
	{"park", "in"}, {"beach", "on"}, {"library", "in"}, {"forest", "in"}, {"garden", "in"},
	{"market", "at"}, {"school", "at"}, {"farm", "on"}, {"river", "by"}, {"castle", "in"},
	{"kitchen", "in"}, {"museum", "in"}, {"harbour", "at"}, {"village", "in"}, {"meadow", "in"},
	{"zoo", "at"}, {"bakery", "at"}, {"station", "at"}, {"island", "on"}, {"mountain", "on"},
	{"lake", "by"}, {"attic", "in"}, {"playground", "at"}, {"cave", "in"}, {"orchard", "in"},
}

// objects are things a character can carry, find or lose.
var objects = []string{"kite", "ball", "hat", "book", "box", "umbrella", "scarf", "bicycle", "balloon",
	"lamp", "cup", "key", "shell", "feather", "boat", "drum", "blanket", "bag", "ribbon", "map",
	"bucket", "coat", "whistle", "basket", "candle", "marble", "jar", "sock", "crayon", "ring"}

var colours = []string{"red", "blue", "green", "yellow", "orange", "purple", "pink", "brown",
	"black", "white", "grey", "silver", "gold"}

var moods = []string{"happy", "sad", "angry", "scared", "excited", "tired", "calm", "curious",
	"proud", "lonely", "nervous", "surprised", "cheerful", "worried", "bored"}

// The general stories use these too; the extraction stories do not, so that
// their five facts are the only values of their kind in the text.
var (
	animals   = []string{"dog", "cat", "rabbit", "duck", "fox", "owl", "frog", "horse", "mouse", "bird", "goat", "turtle", "squirrel", "puppy", "kitten", "bee"}
	foods     = []string{"apples", "cookies", "pears", "pancakes", "plums", "carrots", "grapes", "sandwiches", "muffins", "cherries", "biscuits", "berries"}
	weathers  = []string{"sunny", "rainy", "windy", "cold", "warm", "snowy", "foggy", "cloudy", "bright", "stormy"}
	times     = []string{"morning", "afternoon", "evening", "day", "night"}
	days      = []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
	relatives = []string{"mother", "father", "grandma", "grandpa", "aunt", "uncle", "big sister", "little brother", "mom", "dad"}
	hobbies   = []string{"drawing", "singing", "reading", "running", "building things", "looking at the stars", "playing music", "climbing trees", "telling jokes", "baking", "swimming", "counting birds"}
	sizes     = []string{"small", "big", "tiny", "huge", "little", "old", "new", "shiny", "soft", "heavy", "light"}
	traits    = []string{"kind", "brave", "clever", "shy", "funny", "gentle", "busy", "quiet", "friendly", "careful", "silly", "patient"}
	sounds    = []string{"a loud bang", "a soft song", "a strange noise", "a tiny squeak", "a happy bark", "the ringing of a bell", "a splash", "a knock at the door"}
	games     = []string{"hide and seek", "tag", "a guessing game", "catch", "a race", "a game of pretend"}
	trees     = []string{"oak", "pine", "willow", "birch", "maple", "apple", "cherry", "olive", "palm", "chestnut"}
	flowers   = []string{"roses", "tulips", "daisies", "sunflowers", "lilies", "poppies", "violets", "bluebells", "daffodils"}
	smells    = []string{"fresh bread", "rain", "pine needles", "salt and seaweed", "warm soup", "cut grass", "smoke", "oranges", "wet earth"}
	moves     = []string{"jumped", "skipped", "wandered", "hurried", "tiptoed", "danced", "raced", "strolled", "marched", "wobbled", "crept"}
	adverbs   = []string{"slowly", "quickly", "carefully", "quietly", "bravely", "softly", "gently", "eagerly", "clumsily", "boldly"}
	grounds   = []string{"grass", "sand", "bridge", "road", "field", "stones", "snow", "path", "hill", "yard"}
	jobs      = []string{"baker", "farmer", "teacher", "doctor", "painter", "fisherman", "sailor", "gardener", "librarian", "postman", "carpenter", "shopkeeper"}
	noises    = []string{"church bells", "a train", "children laughing", "the waves", "a dog barking", "thunder", "a flute", "the wind in the trees"}
	clouds    = []string{"a sheep", "a dragon", "a ship", "a giant shoe", "a sleeping cat", "a castle", "a whale", "a teapot"}
)
