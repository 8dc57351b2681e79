package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
)

// The benchmarks' app: the seed article's hello world, whose whole body is its greeting, so a
// bench script can wait for an exact body after swapping "Hello World!" for its own text
// (hello.go, the quickstart's app, also shows a variable and a secret).
func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "Hello World!")
	})
	http.HandleFunc("/up", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	})
	// PORT: the port its release listens on (jailpilot sets it; a port change moves it).
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	log.Fatal(http.ListenAndServe(":"+port, nil))
}
