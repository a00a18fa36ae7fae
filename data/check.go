package data

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"sync"

	"hone/chat"
	"hone/tokenizer"
)

// CheckOptions configure a Checker. Only the reading options are needed;
// a template and tokenizer add the rendering checks (length, mask, chat
// template errors) and the token statistics.
type CheckOptions struct {
	Read ReadOptions
	// Template and Tokenizer render the examples; both or neither.
	Template  *chat.Template
	Tokenizer *tokenizer.Tokenizer
	// Render are the masking options the training will use.
	Render RenderOptions
	// MaxLen is the context length: longer conversations are a problem
	// (plain texts are cut into pieces by Prepare and are not). 0: none.
	MaxLen int
	// ExpectJSON requires every trained assistant turn to be one JSON
	// value; Schema (which implies it) requires it to satisfy the schema.
	ExpectJSON bool
	Schema     *Schema
	// NearDuplicate is the estimated Jaccard similarity of word 3-shingles
	// at which two examples are near duplicates: 0 means 0.7, a negative
	// value turns the check off.
	NearDuplicate float64
	// Workers render in parallel; 0 means GOMAXPROCS.
	Workers int
	// Progress, when set, is called after each chunk of rows with the
	// file and the rows read so far.
	Progress func(file string, rows int)
}

// FileReport is what the Checker found in one file.
type FileReport struct {
	File       string    `json:"file"`
	Validation bool      `json:"validation"`
	Container  Container `json:"container,omitempty"`
	Format     Format    `json:"format,omitempty"`
	Rows       int       `json:"rows"`
	// Examples counts the examples that read, render and fit.
	Examples int `json:"examples"`
	// Problems counts the problems of this file.
	Problems int `json:"problems"`
	// Unusable is set when the file cannot be used at all.
	Unusable string `json:"unusable,omitempty"`
	Stats    Stats  `json:"stats"`
}

// Report is the result of checking a set of files.
type Report struct {
	Files    []*FileReport `json:"files"`
	Problems []Problem     `json:"problems"`
	// Kinds counts the problems by kind.
	Kinds map[Kind]int `json:"kinds"`
	// Train summarises the training files (not the validation files).
	Train Stats `json:"train"`
	// Unusable counts the files that could not be read as datasets.
	Unusable int `json:"unusable"`
}

// Checker is the dataset doctor: it reads files one after the other and
// reports every problem it finds, within a file and across files.
// Training files must be checked before the validation files they are
// compared with. A Checker is not safe for concurrent use.
type Checker struct {
	opts   CheckOptions
	report Report
	train  statsAcc
	files  []string

	refs     []rowRef
	sigs     []uint8 // numHashes per ref (see short)
	exact    map[uint64]int32
	prompts  map[uint64]promptRef
	bands    map[uint32]int32 // band key (all bands) -> first ref
	nearDupT float64
}

// rowRef locates an indexed example.
type rowRef struct {
	file, line int32
	val        bool
}

type promptRef struct {
	ref    int32
	answer uint64
}

// NewChecker returns a Checker with the given options.
func NewChecker(opts CheckOptions) *Checker {
	c := &Checker{opts: opts, exact: map[uint64]int32{}, prompts: map[uint64]promptRef{}, bands: map[uint32]int32{}}
	c.report.Kinds = map[Kind]int{}
	c.train.tokenized = opts.Tokenizer != nil && opts.Template != nil
	c.nearDupT = opts.NearDuplicate
	if c.nearDupT == 0 {
		c.nearDupT = 0.7
	}
	if c.opts.Workers <= 0 {
		c.opts.Workers = runtime.GOMAXPROCS(0)
	}
	return c
}

// CheckFile checks one file. It returns the file's report, and an error
// only for a file that cannot be opened or read; an unusable file (empty,
// binary, ...) is recorded in the report (Unusable) with a nil error.
func (c *Checker) CheckFile(path string, validation bool) (*FileReport, error) {
	r, err := Open(path, c.opts.Read)
	if err != nil {
		var ue *UnusableError
		if errors.As(err, &ue) {
			return c.unusable(&FileReport{File: path, Validation: validation}, ue), nil
		}
		return nil, err
	}
	defer r.Close()
	return c.check(r, path, validation)
}

// CheckReader checks a dataset read from rd; name stands for its path.
func (c *Checker) CheckReader(rd io.Reader, name string, validation bool) (*FileReport, error) {
	r, err := NewReader(rd, name, c.opts.Read)
	if err != nil {
		var ue *UnusableError
		if errors.As(err, &ue) {
			return c.unusable(&FileReport{File: name, Validation: validation}, ue), nil
		}
		return nil, err
	}
	return c.check(r, name, validation)
}

func (c *Checker) unusable(fr *FileReport, ue *UnusableError) *FileReport {
	fr.Unusable = ue.Error()
	c.report.Files = append(c.report.Files, fr)
	c.report.Unusable++
	return fr
}

// chunkRows is how many rows are analysed in parallel at a time.
const chunkRows = 256

// analysis is what can be computed from one row alone.
type analysis struct {
	ex    *Example
	line  int
	probs []Problem

	full, prompt, answer uint64
	hasPrompt            bool
	sig                  [numHashes]uint32
	hasSig               bool
	tokens, trained      int // -1: not rendered
}

func (c *Checker) check(r *Reader, name string, validation bool) (*FileReport, error) {
	fr := &FileReport{File: name, Validation: validation, Container: r.Container()}
	fi := int32(len(c.files))
	c.files = append(c.files, name)
	var acc statsAcc
	acc.tokenized = c.train.tokenized
	first, firstRef := len(c.report.Problems), int32(len(c.refs))
	// A goroutine reads chunks of rows while the workers analyse the
	// chunk before; the rows are indexed in file order.
	type readChunk struct {
		rows []analysis
		err  error
	}
	chunks := make(chan readChunk, 2)
	stop := make(chan struct{})
	go func() {
		defer close(chunks)
		for {
			rc := readChunk{rows: make([]analysis, 0, chunkRows)}
			for len(rc.rows) < chunkRows {
				ex, probs, err := r.Next()
				if err != nil {
					if err != io.EOF {
						rc.err = err
					}
					break
				}
				a := analysis{ex: ex, probs: probs, tokens: -1}
				if ex != nil {
					a.line = ex.Line
				}
				rc.rows = append(rc.rows, a)
			}
			select {
			case chunks <- rc:
			case <-stop:
				return
			}
			if rc.err != nil || len(rc.rows) < chunkRows {
				return
			}
		}
	}()
	defer close(stop)
	rows := 0
	for rc := range chunks {
		c.analyse(rc.rows)
		for i := range rc.rows {
			c.index(fi, validation, &rc.rows[i], &acc)
		}
		rows += len(rc.rows)
		if c.opts.Progress != nil {
			c.opts.Progress(name, rows)
		}
		if err := rc.err; err != nil {
			var ue *UnusableError
			if errors.As(err, &ue) {
				// Whatever was found before the file turned out to be
				// unusable is dropped with it.
				c.report.Problems = c.report.Problems[:first]
				c.forget(firstRef)
				fr.Rows = r.Rows()
				return c.unusable(fr, ue), nil
			}
			return nil, err
		}
	}
	fr.Rows, fr.Format = r.Rows(), r.Format()
	fr.Problems = len(c.report.Problems) - first
	sort.SliceStable(c.report.Problems[first:], func(i, j int) bool {
		return c.report.Problems[first+i].Line < c.report.Problems[first+j].Line
	})
	fr.Examples = acc.examples
	fr.Stats = acc.stats()
	c.report.Files = append(c.report.Files, fr)
	if !validation {
		c.train.examples += acc.examples
		c.train.tokens += acc.tokens
		c.train.trained += acc.trained
		c.train.prompt = append(c.train.prompt, acc.prompt...)
		c.train.completion = append(c.train.completion, acc.completion...)
		c.train.total = append(c.train.total, acc.total...)
	}
	return fr, nil
}

// analyse runs the per-row work of a chunk in parallel.
func (c *Checker) analyse(chunk []analysis) {
	w := min(c.opts.Workers, len(chunk))
	if w <= 1 {
		for i := range chunk {
			c.analyseOne(&chunk[i])
		}
		return
	}
	var wg sync.WaitGroup
	next := make(chan int, len(chunk))
	for i := range chunk {
		next <- i
	}
	close(next)
	for k := 0; k < w; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c.analyseOne(&chunk[i])
			}
		}()
	}
	wg.Wait()
}

func (c *Checker) analyseOne(a *analysis) {
	ex := a.ex
	if ex == nil {
		return
	}
	add := func(kind Kind, msg string) {
		a.probs = append(a.probs, Problem{File: ex.File, Line: ex.Line, Kind: kind, Message: msg})
	}
	// Keys for duplicates and conflicts.
	target := Normalize(ex.Target())
	var full string
	if ex.IsText() {
		full = target
	} else {
		prompt := Normalize(ex.Prompt())
		a.prompt, a.hasPrompt = fnv64(prompt), true
		a.answer = fnv64(target)
		full = prompt + " \x00 " + target
	}
	a.full = fnv64(full)
	if c.nearDupT > 0 {
		a.hasSig = signature(full, &a.sig)
	}
	defer func() {
		for _, p := range a.probs {
			if p.Kind == KindRender || p.Kind == KindUntrained {
				return // the target as rendered is unknown
			}
		}
		c.checkTargets(a, add)
	}()
	// Rendering.
	if c.opts.Template == nil || c.opts.Tokenizer == nil {
		return
	}
	ids, labels, err := Render(ex, c.opts.Template, c.opts.Tokenizer, c.opts.Render)
	switch {
	case errors.Is(err, ErrUntrained):
		add(KindUntrained, "no token is trained (the loss mask is all zeros): the example would teach nothing")
		return
	case err != nil:
		add(KindRender, err.Error())
		return
	}
	trained := 0
	for _, l := range labels {
		if l != IgnoreIndex {
			trained++
		}
	}
	if c.opts.MaxLen > 0 && len(ids) > c.opts.MaxLen && !ex.IsText() {
		add(KindTooLong, fmt.Sprintf("%d tokens exceed the context length %d", len(ids), c.opts.MaxLen))
		return
	}
	a.tokens, a.trained = len(ids), trained
}

// checkTargets checks that trained assistant turns are JSON (and satisfy
// the schema) when that is expected.
func (c *Checker) checkTargets(a *analysis, add func(Kind, string)) {
	ex := a.ex
	if (c.opts.ExpectJSON || c.opts.Schema != nil) && !ex.IsText() {
		for i, m := range ex.Messages {
			if m.Role != "assistant" || !ex.Weights[i] || (len(m.ToolCalls) > 0 && m.Text() == "") {
				continue
			}
			if kind, msg := checkJSON(m.Text(), c.opts.Schema); kind != "" {
				if n := countAssistant(ex); n > 1 {
					msg = fmt.Sprintf("assistant turn %d of %d: %s", assistantIndex(ex, i), n, msg)
				}
				add(kind, msg)
				return
			}
		}
	}
}

func countAssistant(ex *Example) int {
	n := 0
	for _, m := range ex.Messages {
		if m.Role == "assistant" {
			n++
		}
	}
	return n
}

func assistantIndex(ex *Example, i int) int {
	n := 0
	for _, m := range ex.Messages[:i+1] {
		if m.Role == "assistant" {
			n++
		}
	}
	return n
}

// index compares an analysed row with the rows before it, records its
// problems and adds it to the statistics.
func (c *Checker) index(fi int32, val bool, a *analysis, acc *statsAcc) {
	defer func() {
		for _, p := range a.probs {
			c.report.Problems = append(c.report.Problems, p)
			c.report.Kinds[p.Kind]++
		}
	}()
	if a.ex == nil {
		return
	}
	self := rowRef{file: fi, line: int32(a.line), val: val}
	pair := func(kind Kind, other int32, what string) {
		o := c.refs[other]
		loc := fmt.Sprintf("%s:%d", c.files[o.file], o.line)
		msg := what + " as " + loc
		if val && !o.val {
			kind = KindOverlap
			msg = "the validation example is in the training data: " + msg
		}
		a.probs = append(a.probs, Problem{File: a.ex.File, Line: a.line, Kind: kind, Message: msg,
			OtherFile: c.files[o.file], OtherLine: int(o.line)})
	}
	idx := int32(len(c.refs))
	c.refs = append(c.refs, self)
	c.sigs = short(&a.sig, c.sigs)
	found := false
	if o, ok := c.exact[a.full]; ok {
		pair(KindDuplicate, o, "the same example (after normalisation)")
		found = true
	} else {
		c.exact[a.full] = idx
	}
	if !found && a.hasPrompt {
		if p, ok := c.prompts[a.prompt]; ok && p.answer != a.answer {
			pair(KindConflict, p.ref, "the same prompt with a different answer")
			found = true
		} else if !ok {
			c.prompts[a.prompt] = promptRef{ref: idx, answer: a.answer}
		}
	}
	if a.hasSig {
		best, bestSim := int32(-1), 0.0
		for b := 0; b < lshBands; b++ {
			k := bandKey(&a.sig, b)
			o, ok := c.bands[k]
			if !ok {
				c.bands[k] = idx
				continue
			}
			if o == best {
				continue
			}
			if s := similarity(c.sigs[int(idx)*numHashes:int(idx+1)*numHashes], c.sigs[int(o)*numHashes:int(o+1)*numHashes]); s > bestSim {
				best, bestSim = o, s
			}
		}
		if !found && best >= 0 && bestSim >= c.nearDupT {
			pair(KindNearDuplicate, best, fmt.Sprintf("nearly the same example (estimated similarity %.2f)", bestSim))
		}
	}
	if a.tokens >= 0 || !acc.tokenized {
		hasRenderProblem := false
		for _, p := range a.probs {
			switch p.Kind {
			case KindTooLong, KindUntrained, KindRender:
				hasRenderProblem = true
			}
		}
		if !hasRenderProblem {
			acc.add(a.tokens, a.trained)
		}
	}
}

// forget removes the examples indexed from ref first on, those of a file
// that turned out unusable, so that no later row is compared with them.
func (c *Checker) forget(first int32) {
	for k, v := range c.exact {
		if v >= first {
			delete(c.exact, k)
		}
	}
	for k, v := range c.prompts {
		if v.ref >= first {
			delete(c.prompts, k)
		}
	}
	for k, v := range c.bands {
		if v >= first {
			delete(c.bands, k)
		}
	}
	c.refs = c.refs[:first]
	c.sigs = c.sigs[:int(first)*numHashes]
	c.report.Kinds = map[Kind]int{}
	for _, p := range c.report.Problems {
		c.report.Kinds[p.Kind]++
	}
}

// Report returns everything found so far: the files in the order they were
// checked, the problems in file and line order, and the training
// statistics.
func (c *Checker) Report() *Report {
	r := c.report
	r.Train = c.train.stats()
	return &r
}

// Clean reports whether the report has no problems and no unusable files.
func (r *Report) Clean() bool { return len(r.Problems) == 0 && r.Unusable == 0 }

// CheckFiles checks training files, then validation files against them.
func CheckFiles(train, validation []string, opts CheckOptions) (*Report, error) {
	c := NewChecker(opts)
	for _, f := range train {
		if _, err := c.CheckFile(f, false); err != nil {
			return nil, err
		}
	}
	for _, f := range validation {
		if _, err := c.CheckFile(f, true); err != nil {
			return nil, err
		}
	}
	return c.Report(), nil
}
