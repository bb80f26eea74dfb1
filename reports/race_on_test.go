//go:build race

package reports_test

// raceBuild is true when the race detector is on: it slows the embedded
// stores, which run in the test process, about tenfold.
const raceBuild = true
