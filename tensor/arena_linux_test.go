package tensor

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"unsafe"
)

// TestArenaAdvice: on Linux with transparent huge pages, the mapping that
// holds an arena carries the huge-page advice ("hg" in its VmFlags).
func TestArenaAdvice(t *testing.T) {
	mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || strings.Contains(string(mode), "[never]") {
		t.Skipf("transparent huge pages unavailable (%q, %v)", strings.TrimSpace(string(mode)), err)
	}
	a := NewArena(4 * hugePage)
	x := a.New(U8, 4*hugePage)
	for i := 0; i < len(x.Data); i += 4096 {
		x.Data[i] = 1
	}
	a.Settle()
	flags, huge, err := mapping(uintptr(unsafe.Pointer(&x.Data[0])))
	if err != nil {
		t.Skip(err)
	}
	if !strings.Contains(" "+flags+" ", " hg ") {
		t.Errorf("the arena's mapping has VmFlags %q, want hg (MADV_HUGEPAGE)", flags)
	}
	t.Logf("mapping: VmFlags %s; %s", flags, huge)
}

// mapping returns the VmFlags and AnonHugePages lines of the mapping of
// /proc/self/smaps that holds address p.
func mapping(p uintptr) (flags, huge string, err error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		// a mapping's header: "lo-hi perms offset dev inode [path]"
		if f := strings.Fields(line); len(f) >= 5 && !strings.HasSuffix(f[0], ":") {
			var lo, hi uintptr
			if n, _ := fmt.Sscanf(f[0], "%x-%x", &lo, &hi); n == 2 {
				in = lo <= p && p < hi
				continue
			}
		}
		if !in {
			continue
		}
		if v, ok := strings.CutPrefix(line, "AnonHugePages:"); ok {
			huge = "AnonHugePages " + strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "VmFlags:"); ok {
			return strings.TrimSpace(v), huge, nil
		}
	}
	return "", "", fmt.Errorf("no mapping of /proc/self/smaps holds %#x", p)
}
