package tensor

import "syscall"

// madvCollapse is Linux's MADV_COLLAPSE (since 6.1), missing from package
// syscall.
const madvCollapse = 25

// adviseHuge asks for transparent huge pages to back b (MADV_HUGEPAGE),
// which Linux's default "madvise" setting gives only to memory that asks.
// An error (a kernel without them) leaves b as it is.
func adviseHuge(b []byte) { syscall.Madvise(b, syscall.MADV_HUGEPAGE) }

// collapseHuge moves b's resident pages into huge pages now. An error (an
// older kernel, no free huge page) leaves b as it is.
func collapseHuge(b []byte) { syscall.Madvise(b, madvCollapse) }
