package store

import "syscall"

// statfsFree is the space an unprivileged process may still write in dir's filesystem.
func statfsFree(dir string) (free uint64, known bool) {
	var s syscall.Statfs_t
	if err := syscall.Statfs(dir, &s); err != nil {
		return 0, false
	}
	return s.Bavail * uint64(s.Bsize), true
}
