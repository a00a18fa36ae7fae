package ref

import "hone/tensor"

// Embed copies row ids[i] of table [vocab, d] into row i of out [len(ids), d].
func Embed[F Float](out, table []F, ids []int32, d int) {
	vocab := checkEmbed("Embed", out, table, ids, d)
	for i, id := range ids {
		checkID("Embed", i, id, vocab)
		copy(out[i*d:(i+1)*d], table[int(id)*d:(int(id)+1)*d])
	}
}

// EmbedBackward accumulates row i of dout [len(ids), d] into row ids[i] of
// dtable [vocab, d]; repeated ids add up.
func EmbedBackward[F Float](dtable, dout []F, ids []int32, d int) {
	vocab := checkEmbed("EmbedBackward", dout, dtable, ids, d)
	for i, id := range ids {
		checkID("EmbedBackward", i, id, vocab)
		AddScaled(dtable[int(id)*d:(int(id)+1)*d], dout[i*d:(i+1)*d], 1)
	}
}

// checkEmbed validates the sizes of an embedding op and returns the vocabulary
// size.
func checkEmbed[F Float](op string, rows, table []F, ids []int32, d int) int {
	need(d > 0 && len(table)%d == 0, op, "table of %d elements is not a whole number of rows of %d", len(table), d)
	needLen(op, "rows", rows, len(ids)*d)
	return len(table) / d
}

// checkID panics unless id is a row of a table of vocab rows.
func checkID(op string, i int, id int32, vocab int) {
	if id < 0 || int(id) >= vocab {
		fail(op, "ids[%d] = %d is outside the table's %d rows", i, id, vocab)
	}
}

// Embed copies rows of table [vocab, d] (F32, BF16 or F16) into out [len(ids), d].
func (Engine) Embed(out, table *tensor.Tensor, ids []int32) {
	const op = "Embed"
	o := f32(op, "out", out)
	d := out.Cols()
	// ifs rather than need, whose arguments are boxed on every call: a
	// decoding step's embedding allocates nothing
	if table == nil || table.Cols() != d || out.Rows() != len(ids) {
		fail(op, "out %v, table %v and %d ids do not match", out, table, len(ids))
	}
	vocab := table.Rows()
	if table.Numel() != vocab*d {
		fail(op, "table is %v, want %d x %d elements", table, vocab, d)
	}
	// each row copied, or widened, straight into out
	var f []float32
	var h []uint16
	cvt := tensor.BF16ToF32
	switch table.DType {
	case tensor.F32:
		f = table.F32()
	case tensor.BF16:
		h = table.BF16()
	case tensor.F16:
		h, cvt = table.F16(), tensor.F16ToF32
	default:
		fail(op, "table is %v, want F32, BF16 or F16", table)
	}
	for i, id := range ids {
		checkID(op, i, id, vocab)
		r, o := int(id), o[i*d:(i+1)*d]
		if f != nil {
			copy(o, f[r*d:(r+1)*d])
		} else {
			widen(o, h[r*d:(r+1)*d], cvt)
		}
	}
}

// EmbedBackward accumulates row i of dout into row ids[i] of the F32 dtable; a
// nil dtable (a frozen embedding) is skipped.
func (Engine) EmbedBackward(dtable, dout *tensor.Tensor, ids []int32) {
	const op = "EmbedBackward"
	if dtable == nil {
		return
	}
	dt, g := f32(op, "dtable", dtable), f32(op, "dout", dout)
	need(dtable.Cols() == dout.Cols() && dout.Rows() == len(ids), op, "dtable %v, dout %v and %d ids do not match", dtable, dout, len(ids))
	EmbedBackward(dt, g, ids, dout.Cols())
}
