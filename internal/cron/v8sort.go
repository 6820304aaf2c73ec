package cron

// v8Sort sorts a in place exactly as V8 12.4 (Node 22, the reference CU's
// runtime) runs Array.prototype.sort with a user comparator: the TimSort of
// third_party/v8/builtins/array-sort.tq (runs, binary insertion sort to
// minrun, merges with galloping), with no separate path for short arrays.
//
// For a consistent comparator any stable sort gives the same result. It
// matters here because ramda's ascend(prop('value')) returns 0 whenever one
// side is NaN (an unreadable interval), so the order, and with it the cron
// ids, depends on which comparisons the algorithm makes.
//
// cmp(x, y) < 0 means x sorts before y.
func v8Sort[T any](a []T, cmp func(x, y T) int) {
	if len(a) < 2 {
		return
	}
	s := &timSort[T]{a: a, cmp: cmp, minGallop: minGallopWins}
	s.sort()
}

const minGallopWins = 7

type timSort[T any] struct {
	a         []T
	cmp       func(x, y T) int
	minGallop int
	runs      [][2]int // base, length
	tmp       []T
}

func (s *timSort[T]) sort() {
	n := len(s.a)
	remaining, low := n, 0
	minRun := computeMinRunLength(remaining)
	for remaining != 0 {
		runLen := s.countAndMakeRun(low, low+remaining)
		if runLen < minRun {
			forced := min(minRun, remaining)
			s.binaryInsertionSort(low, low+runLen, low+forced)
			runLen = forced
		}
		s.runs = append(s.runs, [2]int{low, runLen})
		s.mergeCollapse()
		low += runLen
		remaining -= runLen
	}
	s.mergeForceCollapse()
}

func computeMinRunLength(n int) int {
	r := 0
	for n >= 64 {
		r |= n & 1
		n >>= 1
	}
	return n + r
}

// binaryInsertionSort sorts [low, high) given that [low, start) is sorted.
func (s *timSort[T]) binaryInsertionSort(low, start, high int) {
	a := s.a
	if low == start {
		start++
	}
	for ; start < high; start++ {
		left, right := low, start
		pivot := a[start]
		for left < right {
			mid := left + ((right - left) >> 1)
			if s.cmp(pivot, a[mid]) < 0 {
				right = mid
			} else {
				left = mid + 1
			}
		}
		copy(a[left+1:start+1], a[left:start])
		a[left] = pivot
	}
}

// countAndMakeRun returns the length of the run starting at lowArg (in
// [lowArg, high)), reversing it in place if it is strictly descending.
func (s *timSort[T]) countAndMakeRun(lowArg, high int) int {
	a := s.a
	low := lowArg + 1
	if low == high {
		return 1
	}
	runLen := 2
	elementLow := a[low]
	descending := s.cmp(elementLow, a[low-1]) < 0
	prev := elementLow
	for idx := low + 1; idx < high; idx++ {
		cur := a[idx]
		order := s.cmp(cur, prev)
		if descending {
			if order >= 0 {
				break
			}
		} else if order < 0 {
			break
		}
		prev = cur
		runLen++
	}
	if descending {
		for i, j := lowArg, lowArg+runLen-1; i < j; i, j = i+1, j-1 {
			a[i], a[j] = a[j], a[i]
		}
	}
	return runLen
}

func (s *timSort[T]) runLen(i int) int { return s.runs[i][1] }

// runInvariantEstablished: run_length(n-2) > run_length(n-1) + run_length(n).
func (s *timSort[T]) runInvariantEstablished(n int) bool {
	if n < 2 {
		return true
	}
	return s.runLen(n-2) > s.runLen(n-1)+s.runLen(n)
}

func (s *timSort[T]) mergeCollapse() {
	for len(s.runs) > 1 {
		n := len(s.runs) - 2
		if !s.runInvariantEstablished(n+1) || !s.runInvariantEstablished(n) {
			if s.runLen(n-1) < s.runLen(n+1) {
				n--
			}
			s.mergeAt(n)
		} else if s.runLen(n) <= s.runLen(n+1) {
			s.mergeAt(n)
		} else {
			break
		}
	}
}

func (s *timSort[T]) mergeForceCollapse() {
	for len(s.runs) > 1 {
		n := len(s.runs) - 2
		if n > 0 && s.runLen(n-1) < s.runLen(n+1) {
			n--
		}
		s.mergeAt(n)
	}
}

func (s *timSort[T]) mergeAt(i int) {
	a := s.a
	size := len(s.runs)
	baseA, lenA := s.runs[i][0], s.runs[i][1]
	baseB, lenB := s.runs[i+1][0], s.runs[i+1][1]
	s.runs[i][1] = lenA + lenB
	if i == size-3 {
		s.runs[i+1] = s.runs[i+2]
	}
	s.runs = s.runs[:size-1]

	k := s.gallopRight(a, a[baseB], baseA, lenA, 0)
	baseA += k
	lenA -= k
	if lenA == 0 {
		return
	}
	lenB = s.gallopLeft(a, a[baseA+lenA-1], baseB, lenB, lenB-1)
	if lenB == 0 {
		return
	}
	if lenA <= lenB {
		s.mergeLow(baseA, lenA, baseB, lenB)
	} else {
		s.mergeHigh(baseA, lenA, baseB, lenB)
	}
}

// gallopLeft returns k in [0, length] with arr[base+k-1] < key <= arr[base+k].
func (s *timSort[T]) gallopLeft(arr []T, key T, base, length, hint int) int {
	lastOfs, offset := 0, 1
	if s.cmp(arr[base+hint], key) < 0 {
		maxOfs := length - hint
		for offset < maxOfs {
			if s.cmp(arr[base+hint+offset], key) >= 0 {
				break
			}
			lastOfs = offset
			offset = (offset << 1) + 1
			if offset <= 0 {
				offset = maxOfs
			}
		}
		if offset > maxOfs {
			offset = maxOfs
		}
		lastOfs += hint
		offset += hint
	} else {
		maxOfs := hint + 1
		for offset < maxOfs {
			if s.cmp(arr[base+hint-offset], key) < 0 {
				break
			}
			lastOfs = offset
			offset = (offset << 1) + 1
			if offset <= 0 {
				offset = maxOfs
			}
		}
		if offset > maxOfs {
			offset = maxOfs
		}
		lastOfs, offset = hint-offset, hint-lastOfs
	}
	lastOfs++
	for lastOfs < offset {
		m := lastOfs + ((offset - lastOfs) >> 1)
		if s.cmp(arr[base+m], key) < 0 {
			lastOfs = m + 1
		} else {
			offset = m
		}
	}
	return offset
}

// gallopRight returns k in [0, length] with arr[base+k-1] <= key < arr[base+k].
func (s *timSort[T]) gallopRight(arr []T, key T, base, length, hint int) int {
	lastOfs, offset := 0, 1
	if s.cmp(key, arr[base+hint]) < 0 {
		maxOfs := hint + 1
		for offset < maxOfs {
			if s.cmp(key, arr[base+hint-offset]) >= 0 {
				break
			}
			lastOfs = offset
			offset = (offset << 1) + 1
			if offset <= 0 {
				offset = maxOfs
			}
		}
		if offset > maxOfs {
			offset = maxOfs
		}
		lastOfs, offset = hint-offset, hint-lastOfs
	} else {
		maxOfs := length - hint
		for offset < maxOfs {
			if s.cmp(key, arr[base+hint+offset]) < 0 {
				break
			}
			lastOfs = offset
			offset = (offset << 1) + 1
			if offset <= 0 {
				offset = maxOfs
			}
		}
		if offset > maxOfs {
			offset = maxOfs
		}
		lastOfs += hint
		offset += hint
	}
	lastOfs++
	for lastOfs < offset {
		m := lastOfs + ((offset - lastOfs) >> 1)
		if s.cmp(key, arr[base+m]) < 0 {
			offset = m
		} else {
			lastOfs = m + 1
		}
	}
	return offset
}

func (s *timSort[T]) tempArray(n int) []T {
	if len(s.tmp) < n {
		s.tmp = make([]T, max(n, 32))
	}
	return s.tmp
}

// mergeLow merges the runs [baseA, baseA+lenA) and [baseB, baseB+lenB),
// lenA <= lenB, front to back, with A in the temp array.
func (s *timSort[T]) mergeLow(baseA, lenA, baseB, lenB int) {
	a := s.a
	tmp := s.tempArray(lenA)
	copy(tmp[:lenA], a[baseA:baseA+lenA])
	dest, cursorTemp, cursorB := baseA, 0, baseB
	var minGallop, winsA, winsB int
	var first bool

	a[dest] = a[cursorB]
	dest++
	cursorB++
	lenB--
	if lenB == 0 {
		goto succeed
	}
	if lenA == 1 {
		goto copyB
	}
	minGallop = s.minGallop
	for {
		winsA, winsB = 0, 0
		for {
			if s.cmp(a[cursorB], tmp[cursorTemp]) < 0 {
				a[dest] = a[cursorB]
				dest++
				cursorB++
				winsB++
				lenB--
				winsA = 0
				if lenB == 0 {
					goto succeed
				}
				if winsB >= minGallop {
					break
				}
			} else {
				a[dest] = tmp[cursorTemp]
				dest++
				cursorTemp++
				winsA++
				lenA--
				winsB = 0
				if lenA == 1 {
					goto copyB
				}
				if winsA >= minGallop {
					break
				}
			}
		}
		minGallop++
		first = true
		for winsA >= minGallopWins || winsB >= minGallopWins || first {
			first = false
			minGallop = max(1, minGallop-1)
			s.minGallop = minGallop

			winsA = s.gallopRight(tmp, a[cursorB], cursorTemp, lenA, 0)
			if winsA > 0 {
				copy(a[dest:dest+winsA], tmp[cursorTemp:cursorTemp+winsA])
				dest += winsA
				cursorTemp += winsA
				lenA -= winsA
				if lenA == 1 {
					goto copyB
				}
				if lenA == 0 {
					goto succeed
				}
			}
			a[dest] = a[cursorB]
			dest++
			cursorB++
			lenB--
			if lenB == 0 {
				goto succeed
			}

			winsB = s.gallopLeft(a, tmp[cursorTemp], cursorB, lenB, 0)
			if winsB > 0 {
				copy(a[dest:dest+winsB], a[cursorB:cursorB+winsB])
				dest += winsB
				cursorB += winsB
				lenB -= winsB
				if lenB == 0 {
					goto succeed
				}
			}
			a[dest] = tmp[cursorTemp]
			dest++
			cursorTemp++
			lenA--
			if lenA == 1 {
				goto copyB
			}
		}
		minGallop++
		s.minGallop = minGallop
	}

succeed:
	if lenA > 0 {
		copy(a[dest:dest+lenA], tmp[cursorTemp:cursorTemp+lenA])
	}
	return
copyB:
	// The last element of run A belongs at the end of the merge.
	copy(a[dest:dest+lenB], a[cursorB:cursorB+lenB])
	a[dest+lenB] = tmp[cursorTemp]
}

// mergeHigh merges the runs [baseA, baseA+lenA) and [baseB, baseB+lenB),
// lenA >= lenB, back to front, with B in the temp array.
func (s *timSort[T]) mergeHigh(baseA, lenA, baseB, lenB int) {
	a := s.a
	tmp := s.tempArray(lenB)
	copy(tmp[:lenB], a[baseB:baseB+lenB])
	dest, cursorTemp, cursorA := baseB+lenB-1, lenB-1, baseA+lenA-1
	var minGallop, winsA, winsB, k int
	var first bool

	a[dest] = a[cursorA]
	dest--
	cursorA--
	lenA--
	if lenA == 0 {
		goto succeed
	}
	if lenB == 1 {
		goto copyA
	}
	minGallop = s.minGallop
	for {
		winsA, winsB = 0, 0
		for {
			if s.cmp(tmp[cursorTemp], a[cursorA]) < 0 {
				a[dest] = a[cursorA]
				dest--
				cursorA--
				winsA++
				lenA--
				winsB = 0
				if lenA == 0 {
					goto succeed
				}
				if winsA >= minGallop {
					break
				}
			} else {
				a[dest] = tmp[cursorTemp]
				dest--
				cursorTemp--
				winsB++
				lenB--
				winsA = 0
				if lenB == 1 {
					goto copyA
				}
				if winsB >= minGallop {
					break
				}
			}
		}
		minGallop++
		first = true
		for winsA >= minGallopWins || winsB >= minGallopWins || first {
			first = false
			minGallop = max(1, minGallop-1)
			s.minGallop = minGallop

			k = s.gallopRight(a, tmp[cursorTemp], baseA, lenA, lenA-1)
			winsA = lenA - k
			if winsA > 0 {
				dest -= winsA
				cursorA -= winsA
				copy(a[dest+1:dest+1+winsA], a[cursorA+1:cursorA+1+winsA])
				lenA -= winsA
				if lenA == 0 {
					goto succeed
				}
			}
			a[dest] = tmp[cursorTemp]
			dest--
			cursorTemp--
			lenB--
			if lenB == 1 {
				goto copyA
			}

			k = s.gallopLeft(tmp, a[cursorA], 0, lenB, lenB-1)
			winsB = lenB - k
			if winsB > 0 {
				dest -= winsB
				cursorTemp -= winsB
				copy(a[dest+1:dest+1+winsB], tmp[cursorTemp+1:cursorTemp+1+winsB])
				lenB -= winsB
				if lenB == 1 {
					goto copyA
				}
				if lenB == 0 {
					goto succeed
				}
			}
			a[dest] = a[cursorA]
			dest--
			cursorA--
			lenA--
			if lenA == 0 {
				goto succeed
			}
		}
		minGallop++
		s.minGallop = minGallop
	}

succeed:
	if lenB > 0 {
		copy(a[dest-(lenB-1):dest+1], tmp[:lenB])
	}
	return
copyA:
	// The first element of run B belongs at the front of the merge.
	dest -= lenA
	cursorA -= lenA
	copy(a[dest+1:dest+1+lenA], a[cursorA+1:cursorA+1+lenA])
	a[dest] = tmp[cursorTemp]
}
