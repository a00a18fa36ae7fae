//go:build !linux

package tensor

// adviseHuge does nothing: huge pages are asked for on Linux only.
func adviseHuge(b []byte) {}

// collapseHuge does nothing: huge pages are asked for on Linux only.
func collapseHuge(b []byte) {}
