// Command brokenweb does not compile: TestCompiling builds it to see the build start
// and fail.
package main

func main() { notDefined() }
