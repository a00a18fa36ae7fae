package gguf

import (
	"fmt"

	"hone/quant"
)

// Magic is the first four bytes of every GGUF file ("GGUF").
const Magic = "GGUF"

// Version is the GGUF version this package writes; it reads 2 and 3.
const Version = 3

// DefaultAlignment is the alignment when general.alignment is absent.
const DefaultAlignment = 32

// MaxNameLen is the longest tensor name ggml accepts (GGML_MAX_NAME - 1).
const MaxNameLen = 63

// MaxDims is the most dimensions a GGUF tensor has (GGML_MAX_DIMS).
const MaxDims = 4

// QuantizationVersion is ggml's GGML_QNT_VERSION, the value of
// general.quantization_version in a file with quantised tensors.
const QuantizationVersion = 2

// ValueType is the type tag of a metadata value (gguf_metadata_value_type).
type ValueType uint32

// The metadata value types, numbered as the spec numbers them.
const (
	TypeUint8   ValueType = 0
	TypeInt8    ValueType = 1
	TypeUint16  ValueType = 2
	TypeInt16   ValueType = 3
	TypeUint32  ValueType = 4
	TypeInt32   ValueType = 5
	TypeFloat32 ValueType = 6
	TypeBool    ValueType = 7
	TypeString  ValueType = 8
	TypeArray   ValueType = 9
	TypeUint64  ValueType = 10
	TypeInt64   ValueType = 11
	TypeFloat64 ValueType = 12
)

var valueTypeNames = [...]string{"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool", "string", "array", "uint64", "int64", "float64"}

// String returns the spec's name of the type ("uint32", "array", ...).
func (t ValueType) String() string {
	if int(t) < len(valueTypeNames) {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("ValueType(%d)", uint32(t))
}

// fixedSize returns the encoded size of a scalar of type t, 0 for string and
// array.
func (t ValueType) fixedSize() int {
	switch t {
	case TypeUint8, TypeInt8, TypeBool:
		return 1
	case TypeUint16, TypeInt16:
		return 2
	case TypeUint32, TypeInt32, TypeFloat32:
		return 4
	case TypeUint64, TypeInt64, TypeFloat64:
		return 8
	}
	return 0
}

// minSize returns the fewest bytes one value of type t occupies in a file,
// which bounds how many of them the rest of a file can hold.
func (t ValueType) minSize() int {
	switch t {
	case TypeString:
		return 8 // length
	case TypeArray:
		return 12 // element type + length
	}
	return t.fixedSize()
}

// TensorType is a ggml tensor type (enum ggml_type).
type TensorType uint32

// The ggml tensor types. hone reads and writes F32, F16, BF16, Q8_0, Q4_0
// and Q4_K data; the others are known by size so a file holding them can
// still be listed and its supported tensors read.
const (
	F32  TensorType = 0
	F16  TensorType = 1
	Q4_0 TensorType = 2
	Q4_1 TensorType = 3
	Q5_0 TensorType = 6
	Q5_1 TensorType = 7
	Q8_0 TensorType = 8
	Q8_1 TensorType = 9
	Q2_K TensorType = 10
	Q3_K TensorType = 11
	Q4_K TensorType = 12
	Q5_K TensorType = 13
	Q6_K TensorType = 14
	Q8_K TensorType = 15
	I8   TensorType = 24
	I16  TensorType = 25
	I32  TensorType = 26
	I64  TensorType = 27
	F64  TensorType = 28
	BF16 TensorType = 30
)

type typeTraits struct {
	name       string
	blockLen   int // elements per block
	blockBytes int // bytes per block
	decode     bool
}

var tensorTypes = map[TensorType]typeTraits{
	F32:  {"F32", 1, 4, true},
	F16:  {"F16", 1, 2, true},
	Q4_0: {"Q4_0", quant.QK4_0, quant.BlockQ4_0, true},
	Q4_1: {"Q4_1", 32, 20, false},
	Q5_0: {"Q5_0", 32, 22, false},
	Q5_1: {"Q5_1", 32, 24, false},
	Q8_0: {"Q8_0", quant.QK8_0, quant.BlockQ8_0, true},
	Q8_1: {"Q8_1", 32, 36, false},
	Q2_K: {"Q2_K", 256, 84, false},
	Q3_K: {"Q3_K", 256, 110, false},
	Q4_K: {"Q4_K", quant.QKK, quant.BlockQ4_K, true},
	Q5_K: {"Q5_K", 256, 176, false},
	Q6_K: {"Q6_K", 256, 210, false},
	Q8_K: {"Q8_K", 256, 292, false},
	I8:   {"I8", 1, 1, false},
	I16:  {"I16", 1, 2, false},
	I32:  {"I32", 1, 4, false},
	I64:  {"I64", 1, 8, false},
	F64:  {"F64", 1, 8, false},
	BF16: {"BF16", 1, 2, true},
}

// Known reports whether t is a ggml type this package knows the size of.
func (t TensorType) Known() bool { _, ok := tensorTypes[t]; return ok }

// Decodable reports whether this package can convert data of type t to
// float32 (F32, F16, BF16, Q8_0, Q4_0, Q4_K).
func (t TensorType) Decodable() bool { return tensorTypes[t].decode }

// String returns ggml's name of the type ("Q8_0", ...).
func (t TensorType) String() string {
	if tr, ok := tensorTypes[t]; ok {
		return tr.name
	}
	return fmt.Sprintf("TensorType(%d)", uint32(t))
}

// ParseTensorType returns the type named s ("F16", "Q4_0", ...).
func ParseTensorType(s string) (TensorType, error) {
	for t, tr := range tensorTypes {
		if tr.name == s {
			return t, nil
		}
	}
	return 0, fmt.Errorf("gguf: unknown tensor type %q", s)
}

// BlockLen returns the number of elements per block (1 for plain types).
func (t TensorType) BlockLen() int { return tensorTypes[t].blockLen }

// BlockBytes returns the bytes per block.
func (t TensorType) BlockBytes() int { return tensorTypes[t].blockBytes }

// format returns the quant format of a quantised type.
func (t TensorType) format() (quant.Format, bool) {
	switch t {
	case Q8_0:
		return quant.Q8_0, true
	case Q4_0:
		return quant.Q4_0, true
	case Q4_K:
		return quant.Q4_K, true
	}
	return 0, false
}

// FileType is general.file_type: the type of most of a file's tensors
// (llama_ftype).
type FileType uint32

// The file types hone writes.
const (
	FileTypeAllF32     FileType = 0
	FileTypeMostlyF16  FileType = 1
	FileTypeMostlyQ40  FileType = 2
	FileTypeMostlyQ80  FileType = 7
	FileTypeMostlyQ4K  FileType = 15 // Q4_K_M
	FileTypeMostlyBF16 FileType = 32
)

// FileTypeFor returns the general.file_type that describes a file whose
// large matrices are of type t.
func FileTypeFor(t TensorType) (FileType, error) {
	switch t {
	case F32:
		return FileTypeAllF32, nil
	case F16:
		return FileTypeMostlyF16, nil
	case BF16:
		return FileTypeMostlyBF16, nil
	case Q8_0:
		return FileTypeMostlyQ80, nil
	case Q4_0:
		return FileTypeMostlyQ40, nil
	case Q4_K:
		return FileTypeMostlyQ4K, nil
	}
	return 0, fmt.Errorf("gguf: no file type for tensor type %s", t)
}
