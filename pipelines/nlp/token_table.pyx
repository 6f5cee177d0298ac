# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled twin of token_table.py: same API, same answers (see that file for what and why).

One pass over the characters: a token's hash is computed as its characters go by and looked up
in an open-addressing table of 64-bit words (hash bits | mark), so the ~500 tokens of an article
cost no string objects and about one memory access each. Only tokens never seen before, and the
marked ones, are built as strings.
"""
cimport cython
import os

from cpython.unicode cimport PyUnicode_DATA, PyUnicode_KIND, PyUnicode_READ, Py_UNICODE_ISSPACE
from libc.stdint cimport uint64_t
from libc.stdlib cimport calloc, free

cdef uint64_t _FNV_PRIME = 0x100000001b3
cdef uint64_t _MIX1 = 0xff51afd7ed558ccd
cdef uint64_t _MIX2 = 0xc4ceb9fe1a85ec53
cdef uint64_t _MARK_BITS = 3
cdef enum:
    MAX_RANGES = 8  # letter ranges a table may be given
cdef int _PLAIN = 1
cdef int _MARKED = 2


cdef inline uint64_t _finish(uint64_t h) noexcept:
    # murmur3's 64-bit finalizer: spreads every character's bits over the table index bits
    h ^= h >> 33
    h *= _MIX1
    h ^= h >> 33
    h *= _MIX2
    h ^= h >> 33
    return h


@cython.final
cdef class TokenTable:
    cdef uint64_t* _slots
    cdef Py_ssize_t _capacity
    cdef Py_ssize_t _used
    cdef uint64_t _seed
    cdef object _learn
    cdef readonly Py_ssize_t limit
    cdef bint _by_letters
    cdef int _n_ranges
    cdef Py_UCS4 _first[MAX_RANGES]
    cdef Py_UCS4 _last[MAX_RANGES]
    cdef Py_ssize_t _min_length

    MAX_LOCATED = 64  # kept for API parity with the pure-Python form (it has no use here)

    def __cinit__(self, learn, Py_ssize_t limit, letters=None, Py_ssize_t min_length=1):
        self._learn = learn
        self.limit = limit
        self._by_letters = letters is not None
        self._min_length = max(1, min_length)
        if self._by_letters:
            if not 0 < len(letters) <= MAX_RANGES:
                raise ValueError(f"letters: 1 to {MAX_RANGES} (first, last) code point ranges, got {len(letters)}")
            for k, (first, last) in enumerate(letters):
                self._first[k], self._last[k] = first, last
            self._n_ranges = len(letters)
        self._seed = int.from_bytes(os.urandom(8), "little") | 1
        self._slots = NULL
        self._empty_slots(1 << 16)

    def __dealloc__(self):
        free(self._slots)

    def __len__(self):
        return self._used

    cdef uint64_t* _empty_slots(self, Py_ssize_t capacity) except *:
        """Start over with `capacity` empty slots; the old slots are returned for the caller to free."""
        cdef uint64_t* slots = <uint64_t*> calloc(capacity, sizeof(uint64_t))
        if slots == NULL:
            raise MemoryError("token table: no memory for %d slots" % capacity)
        old = self._slots
        self._slots = slots
        self._capacity = capacity
        self._used = 0
        return old

    cdef int _mark_of(self, uint64_t h) noexcept:
        cdef Py_ssize_t mask = self._capacity - 1
        cdef Py_ssize_t at = <Py_ssize_t> ((h >> 2) & <uint64_t> mask)  # above the mark bits
        cdef uint64_t key = h & ~_MARK_BITS
        cdef uint64_t slot
        while True:
            slot = self._slots[at]
            if slot == 0:
                return 0
            if (slot & ~_MARK_BITS) == key:
                return <int> (slot & _MARK_BITS)
            at = (at + 1) & mask

    cdef void _put(self, uint64_t h, int mark) noexcept:
        cdef Py_ssize_t mask = self._capacity - 1
        cdef Py_ssize_t at = <Py_ssize_t> ((h >> 2) & <uint64_t> mask)  # above the mark bits
        while self._slots[at] != 0:
            at = (at + 1) & mask
        self._slots[at] = (h & ~_MARK_BITS) | <uint64_t> mark
        self._used += 1

    cdef void _remember(self, uint64_t h, int mark) except *:
        cdef uint64_t* old
        cdef Py_ssize_t old_capacity = self._capacity, k
        if self._used >= self.limit:
            free(self._empty_slots(self._capacity))  # forget everything: bounded memory, as in the pure form
        elif 2 * (self._used + 1) > self._capacity:  # at most half full keeps probe runs short
            old = self._empty_slots(2 * old_capacity)
            for k in range(old_capacity):
                if old[k] != 0:
                    self._put(old[k], <int> (old[k] & _MARK_BITS))
            free(old)
        self._put(h, mark)

    cdef inline bint _in_token(self, Py_UCS4 ch) noexcept:
        cdef int k
        if not self._by_letters:
            return not Py_UNICODE_ISSPACE(ch)
        for k in range(self._n_ranges):
            if self._first[k] <= ch <= self._last[k]:
                return True
        return False

    def find(self, str text):
        cdef Py_ssize_t n = len(text)
        cdef Py_ssize_t i = 0
        cdef Py_ssize_t start
        cdef int kind = PyUnicode_KIND(text)
        cdef void* data = PyUnicode_DATA(text)
        cdef Py_UCS4 ch
        cdef uint64_t h
        cdef int mark
        cdef dict found = {}
        cdef list starts
        while i < n:
            ch = PyUnicode_READ(kind, data, i)
            if not self._in_token(ch):
                i += 1
                continue
            start = i
            h = self._seed
            while True:
                h = (h ^ <uint64_t> ch) * _FNV_PRIME
                i += 1
                if i >= n:
                    break
                ch = PyUnicode_READ(kind, data, i)
                if not self._in_token(ch):
                    break
            if i - start < self._min_length:
                continue
            h = _finish(h)
            mark = self._mark_of(h)
            if mark == 0:
                mark = _MARKED if self._learn(text[start:i]) else _PLAIN
                self._remember(h, mark)
            if mark == _MARKED:
                token = text[start:i]
                starts = found.get(token)
                if starts is None:
                    found[token] = [start]
                else:
                    starts.append(start)
        return found
