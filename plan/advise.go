package plan

import (
	"fmt"
	"os"
	"strings"

	"github.com/goccy/go-yaml"
)

// Requirements are the answers that decide between retrieval-augmented
// generation and fine-tuning. Each is a yes/no question (see Questions).
type Requirements struct {
	// NewKnowledge: the model must answer from facts it was not trained on
	// (your documents, products, internal data).
	NewKnowledge bool `yaml:"new_knowledge"`
	// ChangingFacts: those facts change over time (prices, policies,
	// inventories).
	ChangingFacts bool `yaml:"changing_facts"`
	// RealTime: answers must reflect updates as soon as they happen.
	RealTime bool `yaml:"real_time"`
	// Format: outputs must follow a fixed format (JSON, a schema, a
	// template).
	Format bool `yaml:"format"`
	// Style: outputs must follow a house style or structure that prompting
	// does not hold reliably.
	Style bool `yaml:"style"`
	// Tone: a consistent tone or persona.
	Tone bool `yaml:"tone"`
	// Vocabulary: a domain's vocabulary or jargon (medical, legal, code
	// bases) the base model uses poorly.
	Vocabulary bool `yaml:"vocabulary"`
	// Latency: low latency or cost per request, so no retrieval step, short
	// prompts, or a smaller model doing a larger one's task.
	Latency bool `yaml:"latency"`
	// Examples is how many input/output examples exist for fine-tuning (0:
	// unknown).
	Examples int `yaml:"examples"`
}

// Approach is the advisor's verdict.
type Approach string

// The verdicts.
const (
	RAG       Approach = "rag"
	FineTune  Approach = "fine-tune"
	Both      Approach = "rag+fine-tune"
	Prompting Approach = "prompting"
)

// Question is one yes/no question of the advisor.
type Question struct {
	// Key is the YAML key and flag name (with '-' for '_').
	Key string
	// Prompt is the question asked on a terminal.
	Prompt string
	// Points is what a yes points to: RAG or FineTune.
	Points Approach
	// Reason is the sentence a yes adds to the advice.
	Reason string
	field  func(*Requirements) *bool
}

// Field returns the answer the question sets in r.
func (q Question) Field(r *Requirements) *bool { return q.field(r) }

// Questions is the decision matrix, one row per question.
var Questions = []Question{
	{"new_knowledge", "Must the model answer from knowledge it was not trained on (your documents, products, internal data)?", RAG,
		"new knowledge belongs in a retrieval index: fine-tuning teaches facts unreliably and makes the model state them with unearned confidence; retrieval puts the source in the prompt and lets the answer cite it",
		func(r *Requirements) *bool { return &r.NewKnowledge }},
	{"changing_facts", "Do those facts change over time (prices, policies, inventories)?", RAG,
		"changing facts need an index you can update; a fine-tuned model is frozen at its training data and must be retrained for every change",
		func(r *Requirements) *bool { return &r.ChangingFacts }},
	{"real_time", "Must answers reflect updates as soon as they happen?", RAG,
		"real-time updates are a write to the retrieval index, visible on the next request; no training run is that fast",
		func(r *Requirements) *bool { return &r.RealTime }},
	{"format", "Must outputs follow a fixed format (JSON, a schema, a template)?", FineTune,
		"a fixed output format is behaviour, which fine-tuning teaches reliably from examples (and hone's constrained decoding can enforce a JSON schema)",
		func(r *Requirements) *bool { return &r.Format }},
	{"style", "Must outputs follow a house style or structure that prompting does not hold reliably?", FineTune,
		"a house style is learnt from examples far more consistently than it is followed from instructions in a prompt",
		func(r *Requirements) *bool { return &r.Style }},
	{"tone", "Must the model keep a consistent tone or persona?", FineTune,
		"tone and persona are behaviour: fine-tuning makes them the default instead of an instruction the model may drift from",
		func(r *Requirements) *bool { return &r.Tone }},
	{"vocabulary", "Does the task use a domain's vocabulary or jargon the base model handles poorly?", FineTune,
		"domain vocabulary and jargon are learnt by fine-tuning on in-domain text; retrieval can only paste definitions into the prompt",
		func(r *Requirements) *bool { return &r.Vocabulary }},
	{"latency", "Do latency or cost per request matter (no retrieval step, short prompts, a smaller model)?", FineTune,
		"fine-tuning bakes instructions and examples into the weights: shorter prompts, no retrieval round trip, and a smaller model can take over a larger one's task",
		func(r *Requirements) *bool { return &r.Latency }},
}

// Advice is the advisor's answer.
type Advice struct {
	Approach Approach
	// Reasons explain the verdict, one sentence each.
	Reasons []string
	// Next lists the commands to run next, for fine-tuning.
	Next []string
}

// MinExamples is the number of examples below which fine-tuning is
// flagged as short of data.
const MinExamples = 100

// Advise applies the decision matrix: knowledge needs (new, changing,
// real-time facts) point to RAG, behaviour needs (format, style, tone,
// vocabulary, latency) point to fine-tuning, both together to combining
// them (fine-tune the behaviour, retrieve the facts), none to prompting a
// base model first. modelHint is the model the next commands name.
func Advise(r Requirements, modelHint string) Advice {
	var a Advice
	var rag, ft bool
	for _, q := range Questions {
		if !*q.field(&r) {
			continue
		}
		a.Reasons = append(a.Reasons, q.Reason)
		if q.Points == RAG {
			rag = true
		} else {
			ft = true
		}
	}
	switch {
	case rag && ft:
		a.Approach = Both
		a.Reasons = append(a.Reasons, "you need both: fine-tune for the behaviour and retrieve the facts at request time; train on examples whose prompts include retrieved passages, so the model learns to answer from them")
	case rag:
		a.Approach = RAG
		a.Reasons = append(a.Reasons, "nothing asks for new behaviour: a base or instruct model with retrieval is enough, and cheaper to keep current")
	case ft:
		a.Approach = FineTune
	default:
		a.Approach = Prompting
		a.Reasons = append(a.Reasons, "no requirement points to retrieval or fine-tuning: start with prompting an instruct model and come back when prompting falls short")
	}
	if (a.Approach == FineTune || a.Approach == Both) && r.Examples > 0 && r.Examples < MinExamples {
		a.Reasons = append(a.Reasons, fmt.Sprintf("only %d examples: fine-tuning usually needs a few hundred or more good ones; collect more, or start with few-shot prompting", r.Examples))
	}
	if a.Approach == FineTune || a.Approach == Both {
		m := modelHint
		if m == "" {
			m = "MODEL"
		}
		a.Next = []string{
			"hone models                              # pick a base model",
			"hone plan --model " + m + " --memory 24GiB   # technique and settings that fit",
			"hone data check DATA.jsonl               # check the examples before training",
			"hone train RECIPE.yaml                   # train, then compare with the base model",
		}
	}
	return a
}

// LoadRequirements reads answers from a YAML file with the keys of
// Questions (and examples); unknown keys are errors naming the key.
func LoadRequirements(path string) (Requirements, error) {
	var r Requirements
	data, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	if err := yaml.UnmarshalWithOptions(data, &r, yaml.Strict()); err != nil {
		return r, fmt.Errorf("%s: %s", path, strings.TrimSpace(yaml.FormatError(err, false, true)))
	}
	if r.Examples < 0 {
		return r, fmt.Errorf("%s: examples: %d, want >= 0", path, r.Examples)
	}
	return r, nil
}
