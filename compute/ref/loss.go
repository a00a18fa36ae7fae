package ref

import (
	"math"

	"hone/compute"
	"hone/tensor"
)

// CrossEntropy returns the sum over the rows i of logits [len(labels), vocab]
// of -log softmax(logits[i])[labels[i]], and the number of rows counted; rows
// labelled compute.IgnoreIndex are skipped. Each row's log-sum-exp is computed
// stably (max subtracted, Σexp in float64) and the loss is summed in float64.
//
// When dlogits is not nil it is overwritten with gradScale·(softmax - onehot)
// for counted rows and zeros for ignored ones: the gradient of gradScale·sum.
// dlogits may alias logits, since each row's loss is taken before the row is
// overwritten.
func CrossEntropy[F Float](logits []F, labels []int32, dlogits []F, vocab int, gradScale F) (sum float64, count int) {
	const op = "CrossEntropy"
	need(vocab > 0, op, "vocab %d", vocab)
	needLen(op, "logits", logits, len(labels)*vocab)
	if dlogits != nil {
		needLen(op, "dlogits", dlogits, len(labels)*vocab)
	}
	for i, y := range labels {
		x := logits[i*vocab : (i+1)*vocab]
		var dx []F
		if dlogits != nil {
			dx = dlogits[i*vocab : (i+1)*vocab]
		}
		if y == compute.IgnoreIndex {
			clear(dx)
			continue
		}
		if y < 0 || int(y) >= vocab {
			fail(op, "labels[%d] = %d is outside the vocabulary of %d (and not IgnoreIndex %d)", i, y, vocab, compute.IgnoreIndex)
		}
		m := x[0]
		for _, v := range x[1:] {
			m = max(m, v)
		}
		var se float64
		for _, v := range x {
			se += math.Exp(float64(v) - float64(m))
		}
		logZ := float64(m) + math.Log(se)
		sum += logZ - float64(x[y])
		count++
		if dx == nil {
			continue
		}
		for j, v := range x {
			p := math.Exp(float64(v) - logZ)
			if j == int(y) {
				p--
			}
			dx[j] = gradScale * F(p)
		}
	}
	return sum, count
}

// CrossEntropy computes the summed causal-LM loss of the F32 logits [n,
// vocab] against n labels, and optionally its gradient (see
// compute.Loss).
func (Engine) CrossEntropy(logits *tensor.Tensor, labels []int32, dlogits *tensor.Tensor, gradScale float32) (float64, int) {
	const op = "CrossEntropy"
	x := f32(op, "logits", logits)
	need(logits.Rows() == len(labels), op, "logits %v has %d rows for %d labels", logits, logits.Rows(), len(labels))
	d := f32OrNil(op, "dlogits", dlogits)
	need(dlogits == nil || dlogits.SameShape(logits), op, "dlogits %v does not match logits %v", dlogits, logits)
	return CrossEntropy(x, labels, d, logits.Cols(), gradScale)
}
