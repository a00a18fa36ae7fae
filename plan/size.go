package plan

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ParseBytes reads a memory size: a number with an optional unit, binary
// (KiB, MiB, GiB, TiB; K, M, G, T and KB, MB, GB, TB are read as binary
// too, the way GPU and RAM sizes are quoted) or B for bytes. A bare number
// is GiB. Examples: 24GiB, 24G, 80 GB, 16000MiB, 0.5TiB.
func ParseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := len(t)
	for i > 0 && (t[i-1] < '0' || t[i-1] > '9') && t[i-1] != '.' {
		i--
	}
	num, unit := strings.TrimSpace(t[:i]), strings.ToUpper(strings.TrimSpace(t[i:]))
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
		return 0, fmt.Errorf("memory size %q: want a positive number with a unit such as 24GiB", s)
	}
	var mul float64
	switch strings.TrimSuffix(strings.TrimSuffix(unit, "IB"), "B") {
	case "":
		mul = 1 << 30
		if unit == "B" {
			mul = 1
		}
	case "K":
		mul = 1 << 10
	case "M":
		mul = 1 << 20
	case "G":
		mul = 1 << 30
	case "T":
		mul = 1 << 40
	default:
		return 0, fmt.Errorf("memory size %q: unknown unit %q (want B, KiB, MiB, GiB or TiB)", s, unit)
	}
	b := v * mul
	if b >= math.MaxInt64/2 {
		return 0, fmt.Errorf("memory size %q: too large", s)
	}
	return int64(b), nil
}
