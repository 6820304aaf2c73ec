//go:build linux

package loader

import (
	"slices"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The two ways of asking the kernel which pages of a private anonymous
// mapping may hold data agree: the ioctl's ranges (more of them than one
// call returns) and the per-page entries.
func TestTouchedPagesScanAgreesWithPagemapEntries(t *testing.T) {
	pg := unix.Getpagesize()
	const pages = 1200
	b, err := unix.Mmap(-1, 0, pages*pg, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(b)
	want := writePagePattern(b, pg)
	if b[1100*pg] != 0 { // read only: the shared zero page, present to the kernel
		t.Fatal("a new anonymous page does not read as zero")
	}
	want[1100] = true

	fd, err := unix.Open("/proc/self/pagemap", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no /proc/self/pagemap here: %v", err)
	}
	defer unix.Close(fd)
	start := uintptr(unsafe.Pointer(&b[0]))
	read := make([]bool, pages)
	if !readTouched(fd, start, pg, read) {
		t.Skip("the kernel does not tell which pages are present here")
	}
	if !slices.Equal(read, want) {
		t.Fatalf("pagemap entries: %v, want %v", pagesSet(read), pagesSet(want))
	}
	scanned := make([]bool, pages)
	if !scanTouched(fd, start, pg, scanned) {
		t.Skip("no PAGEMAP_SCAN ioctl in this kernel (Linux 6.7+): touchedPages reads the entries")
	}
	if !slices.Equal(scanned, want) {
		t.Fatalf("PAGEMAP_SCAN: %v, want %v", pagesSet(scanned), pagesSet(want))
	}
	got, gotPg, ok := touchedPages(b)
	if !ok || gotPg != pg || !slices.Equal(got, want) {
		t.Fatalf("touchedPages: ok %v, page size %d, %v", ok, gotPg, pagesSet(got))
	}
}

// writePagePattern writes to pages of b (of 1,200 pages of pg bytes): 450
// separate ones (more ranges than one PAGEMAP_SCAN call returns) and one run
// of 10, and returns which.
func writePagePattern(b []byte, pg int) []bool {
	written := make([]bool, len(b)/pg)
	for i := 0; i < 900; i += 2 {
		b[i*pg+7] = 1
		written[i] = true
	}
	for i := 1000; i < 1010; i++ {
		b[i*pg] = 1
		written[i] = true
	}
	return written
}

func pagesSet(t []bool) []int {
	var s []int
	for i, v := range t {
		if v {
			s = append(s, i)
		}
	}
	return s
}

// An aos process's memory: 110 MB, of which ~600 scattered pages are backed.
func BenchmarkTouchedPages(b *testing.B) {
	pg := unix.Getpagesize()
	const size = 110034944
	m, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Munmap(m)
	for i := 0; i < size/pg; i += 43 {
		m[i*pg] = 1
	}
	fd, err := unix.Open("/proc/self/pagemap", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		b.Skip(err)
	}
	defer unix.Close(fd)
	start := uintptr(unsafe.Pointer(&m[0]))
	for _, way := range []struct {
		name string
		f    func(int, uintptr, int, []bool) bool
	}{{"read", readTouched}, {"scan", scanTouched}} {
		b.Run(way.name, func(b *testing.B) {
			for b.Loop() {
				if !way.f(fd, start, pg, make([]bool, size/pg)) {
					b.Skip("not supported here")
				}
			}
		})
	}
}

// The private copies of a MAP_PRIVATE file mapping (its written pages: what
// a dry-run fork must put back) are the same pages whether PAGEMAP_SCAN or
// the pagemap entries say so; pages only read (the file's, present) and
// pages never touched are not among them.
func TestPrivatePagesScanAgreesWithPagemapEntries(t *testing.T) {
	pg := unix.Getpagesize()
	const pages = 1200
	fd, err := unix.MemfdCreate("private-pages-test", unix.MFD_CLOEXEC)
	if err != nil {
		t.Skipf("no memfd here: %v", err)
	}
	defer unix.Close(fd)
	if err := unix.Ftruncate(fd, pages*int64(pg)); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Pwrite(fd, []byte{9}, 1101*int64(pg)); err != nil {
		t.Fatal(err)
	}
	b, err := unix.Mmap(fd, 0, pages*pg, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(b)
	want := writePagePattern(b, pg)
	if b[1100*pg] != 0 || b[1101*pg] != 9 { // read only: the file's pages, present
		t.Fatal("the mapping does not read as the file")
	}
	pm, err := unix.Open("/proc/self/pagemap", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no /proc/self/pagemap here: %v", err)
	}
	defer unix.Close(pm)
	start := uintptr(unsafe.Pointer(&b[0]))
	collect := func(run func(mark func(int)) bool) ([]bool, bool) {
		got := make([]bool, pages)
		last := -1
		ok := run(func(i int) {
			if i <= last {
				t.Fatalf("page %d marked after page %d", i, last)
			}
			got[i], last = true, i
		})
		return got, ok
	}
	read, ok := collect(func(mark func(int)) bool {
		_, err := readPrivatePages(pm, start, pg, pages, 0, nil, mark)
		return err == nil
	})
	if !ok {
		t.Skip("the kernel does not tell which pages are present here")
	}
	if !slices.Equal(read, want) {
		t.Fatalf("pagemap entries: %v, want %v", pagesSet(read), pagesSet(want))
	}
	scanned, ok := collect(func(mark func(int)) bool { return scanPages(pm, start, pg, pages, privateCopies(), mark) })
	if !ok {
		t.Skip("no PAGEMAP_SCAN ioctl in this kernel (Linux 6.7+): privatePages reads the entries")
	}
	if !slices.Equal(scanned, want) {
		t.Fatalf("PAGEMAP_SCAN: %v, want %v", pagesSet(scanned), pagesSet(want))
	}
	got, ok := collect(func(mark func(int)) bool {
		_, err := privatePages(pm, start, pg, pages, nil, mark)
		return err == nil
	})
	if !ok || !slices.Equal(got, want) {
		t.Fatalf("privatePages: ok %v, %v", ok, pagesSet(got))
	}
}
