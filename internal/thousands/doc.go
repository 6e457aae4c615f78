// Package thousands writes integers with thousands separators for people
// to read in the command line's reports: the rebuild's progress and
// summaries, and the benchmarks.
//
// It owns only the spelling of a number. What is counted, how a rate is
// measured or smoothed, and the layout of a report stay with the caller.
package thousands
