package supervisor

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// siginfoPID reads si_pid of a SIGCHLD siginfo (Linux layout: three ints,
// then, on 64-bit, padding to 8 bytes, then the pid).
func siginfoPID(info *unix.Siginfo) int {
	b := (*[128]byte)(unsafe.Pointer(info))
	off := 12
	if unsafe.Sizeof(uintptr(0)) == 8 {
		off = 16
	}
	return int(*(*int32)(unsafe.Pointer(&b[off])))
}
