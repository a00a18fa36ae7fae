package plan

import "testing"

func TestParseBytes(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		err  bool
	}{
		{"24GiB", 24 << 30, false},
		{"24G", 24 << 30, false},
		{"80 GB", 80 << 30, false},
		{"16000MiB", 16000 << 20, false},
		{"0.5TiB", 1 << 39, false},
		{"512", 512 << 30, false},
		{"4096B", 4096, false},
		{"1k", 1024, false},
		{"", 0, true},
		{"GiB", 0, true},
		{"-3GiB", 0, true},
		{"0", 0, true},
		{"12 parsecs", 0, true},
		{"1e30TiB", 0, true},
		{"NaNGiB", 0, true},
	}
	for _, c := range cases {
		got, err := ParseBytes(c.in)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d, error %v", c.in, got, err, c.want, c.err)
		}
	}
}

func FuzzParseBytes(f *testing.F) {
	for _, s := range []string{"24GiB", "1.5 TB", "7", "x", "9e18B"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseBytes(s)
		if err == nil && n < 0 {
			t.Fatalf("ParseBytes(%q) = %d", s, n)
		}
	})
}
