package gguf

import (
	"fmt"
	"math"
)

// Arrays is a metadata array whose elements are themselves arrays (the
// spec's nested arrays). Each element is a typed slice ([]uint32, []string,
// ...) or another Arrays.
type Arrays []any

// KV is one metadata key-value pair. Value holds one of the Go types that
// map one to one onto GGUF value types: uint8, int8, uint16, int16, uint32,
// int32, float32, bool, string, uint64, int64, float64; a slice of one of
// those for an array; or Arrays for an array of arrays.
type KV struct {
	Key   string
	Value any
}

// Metadata is an ordered set of key-value pairs with unique keys. Its
// zero value is empty and ready to use.
type Metadata struct {
	kvs   []KV
	index map[string]int
}

// Len returns the number of pairs.
func (m *Metadata) Len() int { return len(m.kvs) }

// KVs returns the pairs in order. The slice is the Metadata's own; do not
// modify it.
func (m *Metadata) KVs() []KV { return m.kvs }

// Keys returns the keys in order.
func (m *Metadata) Keys() []string {
	k := make([]string, len(m.kvs))
	for i, kv := range m.kvs {
		k[i] = kv.Key
	}
	return k
}

// Get returns the value of key.
func (m *Metadata) Get(key string) (any, bool) {
	i, ok := m.index[key]
	if !ok {
		return nil, false
	}
	return m.kvs[i].Value, true
}

// Set adds key = v, or replaces the value of an existing key in place. It
// returns an error if v is not a GGUF value type or key is empty or longer
// than 65535 bytes.
func (m *Metadata) Set(key string, v any) error {
	if key == "" || len(key) > math.MaxUint16 {
		return fmt.Errorf("gguf: metadata key %q: keys are 1 to 65535 bytes", key)
	}
	if _, err := valueType(v, 0); err != nil {
		return fmt.Errorf("gguf: metadata key %q: %w", key, err)
	}
	if m.index == nil {
		m.index = map[string]int{}
	}
	if i, ok := m.index[key]; ok {
		m.kvs[i].Value = v
		return nil
	}
	m.index[key] = len(m.kvs)
	m.kvs = append(m.kvs, KV{key, v})
	return nil
}

// Delete removes key if present.
func (m *Metadata) Delete(key string) {
	i, ok := m.index[key]
	if !ok {
		return
	}
	m.kvs = append(m.kvs[:i], m.kvs[i+1:]...)
	delete(m.index, key)
	for j := i; j < len(m.kvs); j++ {
		m.index[m.kvs[j].Key] = j
	}
}

// maxNesting bounds array nesting, in files and in values.
const maxNesting = 16

// valueType returns the GGUF type of v (TypeArray for slices).
func valueType(v any, depth int) (ValueType, error) {
	switch v := v.(type) {
	case uint8:
		return TypeUint8, nil
	case int8:
		return TypeInt8, nil
	case uint16:
		return TypeUint16, nil
	case int16:
		return TypeInt16, nil
	case uint32:
		return TypeUint32, nil
	case int32:
		return TypeInt32, nil
	case float32:
		return TypeFloat32, nil
	case bool:
		return TypeBool, nil
	case string:
		return TypeString, nil
	case uint64:
		return TypeUint64, nil
	case int64:
		return TypeInt64, nil
	case float64:
		return TypeFloat64, nil
	case []uint8, []int8, []uint16, []int16, []uint32, []int32, []float32, []bool, []string, []uint64, []int64, []float64:
		return TypeArray, nil
	case Arrays:
		if depth >= maxNesting {
			return 0, fmt.Errorf("arrays nested deeper than %d", maxNesting)
		}
		for i, e := range v {
			if t, err := valueType(e, depth+1); err != nil {
				return 0, err
			} else if t != TypeArray {
				return 0, fmt.Errorf("element %d of an array of arrays is a %T", i, e)
			}
		}
		return TypeArray, nil
	}
	return 0, fmt.Errorf("%T is not a GGUF value type", v)
}

// elemType returns the element type of an array value.
func elemType(v any) ValueType {
	switch v.(type) {
	case []uint8:
		return TypeUint8
	case []int8:
		return TypeInt8
	case []uint16:
		return TypeUint16
	case []int16:
		return TypeInt16
	case []uint32:
		return TypeUint32
	case []int32:
		return TypeInt32
	case []float32:
		return TypeFloat32
	case []bool:
		return TypeBool
	case []string:
		return TypeString
	case []uint64:
		return TypeUint64
	case []int64:
		return TypeInt64
	case []float64:
		return TypeFloat64
	}
	return TypeArray
}

// String returns the string value of key.
func (m *Metadata) String(key string) (string, error) {
	v, err := m.need(key)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", typeErr(key, v, "string")
	}
	return s, nil
}

// Uint returns the value of key, which may be of any unsigned or
// non-negative signed integer type (GGUF writers differ on uint32/uint64).
func (m *Metadata) Uint(key string) (uint64, error) {
	v, err := m.need(key)
	if err != nil {
		return 0, err
	}
	var i int64
	switch v := v.(type) {
	case uint8:
		return uint64(v), nil
	case uint16:
		return uint64(v), nil
	case uint32:
		return uint64(v), nil
	case uint64:
		return v, nil
	case int8:
		i = int64(v)
	case int16:
		i = int64(v)
	case int32:
		i = int64(v)
	case int64:
		i = v
	default:
		return 0, typeErr(key, v, "unsigned integer")
	}
	if i < 0 {
		return 0, fmt.Errorf("gguf: metadata key %q is %d, want a non-negative integer", key, i)
	}
	return uint64(i), nil
}

// Int returns the value of key, which may be of any integer type that fits
// an int64.
func (m *Metadata) Int(key string) (int64, error) {
	v, err := m.need(key)
	if err != nil {
		return 0, err
	}
	switch v := v.(type) {
	case int8:
		return int64(v), nil
	case int16:
		return int64(v), nil
	case int32:
		return int64(v), nil
	case int64:
		return v, nil
	case uint8:
		return int64(v), nil
	case uint16:
		return int64(v), nil
	case uint32:
		return int64(v), nil
	case uint64:
		if v > math.MaxInt64 {
			return 0, fmt.Errorf("gguf: metadata key %q is %d, too large", key, v)
		}
		return int64(v), nil
	}
	return 0, typeErr(key, v, "integer")
}

// Float returns the value of key, a float32 or float64.
func (m *Metadata) Float(key string) (float64, error) {
	v, err := m.need(key)
	if err != nil {
		return 0, err
	}
	switch v := v.(type) {
	case float32:
		return float64(v), nil
	case float64:
		return v, nil
	}
	return 0, typeErr(key, v, "float")
}

// Bool returns the bool value of key.
func (m *Metadata) Bool(key string) (bool, error) {
	v, err := m.need(key)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, typeErr(key, v, "bool")
	}
	return b, nil
}

// Strings returns the string-array value of key.
func (m *Metadata) Strings(key string) ([]string, error) {
	v, err := m.need(key)
	if err != nil {
		return nil, err
	}
	s, ok := v.([]string)
	if !ok {
		return nil, typeErr(key, v, "string array")
	}
	return s, nil
}

// Has reports whether key is present.
func (m *Metadata) Has(key string) bool { _, ok := m.index[key]; return ok }

func (m *Metadata) need(key string) (any, error) {
	v, ok := m.Get(key)
	if !ok {
		return nil, fmt.Errorf("gguf: metadata key %q is missing", key)
	}
	return v, nil
}

func typeErr(key string, v any, want string) error {
	return fmt.Errorf("gguf: metadata key %q holds %s, want %s", key, describe(v), want)
}

// describe names the GGUF type of a value ("uint32", "array of string").
func describe(v any) string {
	t, err := valueType(v, 0)
	if err != nil {
		return fmt.Sprintf("%T", v)
	}
	if t != TypeArray {
		return t.String()
	}
	return "array of " + elemType(v).String()
}
