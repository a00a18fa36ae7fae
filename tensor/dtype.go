package tensor

import "fmt"

// DType is the element type of a tensor.
type DType uint8

// The element types hone stores. F32 is the reference precision; BF16 and F16
// are storage and fast-compute types; the integer types carry ids and labels.
const (
	F32 DType = iota
	BF16
	F16
	F64
	I64
	I32
	U8
	I8
)

var dtypeInfo = [...]struct {
	name string
	size int
}{
	F32:  {"F32", 4},
	BF16: {"BF16", 2},
	F16:  {"F16", 2},
	F64:  {"F64", 8},
	I64:  {"I64", 8},
	I32:  {"I32", 4},
	U8:   {"U8", 1},
	I8:   {"I8", 1},
}

// Size returns the number of bytes of one element.
func (d DType) Size() int {
	if int(d) >= len(dtypeInfo) {
		panic(fmt.Sprintf("tensor: unknown dtype %d", d))
	}
	return dtypeInfo[d].size
}

// String returns the dtype's name as safetensors spells it ("F32", "BF16", ...).
func (d DType) String() string {
	if int(d) >= len(dtypeInfo) {
		return fmt.Sprintf("DType(%d)", d)
	}
	return dtypeInfo[d].name
}

// ParseDType returns the dtype named s (safetensors spelling, e.g. "BF16").
func ParseDType(s string) (DType, error) {
	for i, in := range dtypeInfo {
		if in.name == s {
			return DType(i), nil
		}
	}
	return 0, fmt.Errorf("unknown dtype %q", s)
}
