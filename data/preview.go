package data

// Segment is a run of a rendered text whose tokens are all trained or all
// not, with the number of tokens in it.
type Segment struct {
	Text    string
	Trained bool
	Tokens  int
}

// Segments cuts a rendering into runs of trained and untrained tokens, for
// display. Bytes that no token covers go with the run before them; tokens
// that share bytes (pieces of one UTF-8 character) show them once.
func Segments(r *Rendering) []Segment {
	var out []Segment
	end, pending := 0, ""
	for i, o := range r.Offsets {
		trained := r.Labels[i] != IgnoreIndex
		lo, hi := max(o[0], end), max(o[1], end)
		if gap := r.Text[end:lo]; gap != "" {
			if len(out) > 0 {
				out[len(out)-1].Text += gap
			} else {
				pending = gap
			}
		}
		if len(out) == 0 || out[len(out)-1].Trained != trained {
			out = append(out, Segment{Text: pending, Trained: trained})
			pending = ""
		}
		s := &out[len(out)-1]
		s.Text += r.Text[lo:hi]
		s.Tokens++
		end = hi
	}
	if end < len(r.Text) && len(out) > 0 {
		out[len(out)-1].Text += r.Text[end:]
	}
	return out
}
