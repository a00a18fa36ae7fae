//go:build !amd64 || purego

package generate

// argmax is Argmax: the Go loop (no vector kernel here).
func argmax(logits []float32) int32 { return argmaxGo(logits) }
