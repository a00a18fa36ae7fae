//go:build !amd64 || purego

package cpu

// nf4Asm is false: there are no assembly NF4 decoders for this platform
// (or the purego build tag asked for none).
var nf4Asm = false

func nf4BlocksBF16(dst *uint16, packed *byte, scales *float32, nblk int, k *nf4Consts) {
	panic("cpu: no assembly NF4 decoder")
}

func nf4PairsBF16(dst *uint16, packed *byte, ld int, scales *float32, npairs int, args *nf4PairArgs, k *nf4Consts) {
	panic("cpu: no assembly NF4 decoder")
}
