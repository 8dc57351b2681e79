package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
)

// The quickstart's demo app: the seed article's hello world, plus one variable (LOG_LEVEL, from
// agent.conf's env) and one secret (DEMO_TOKEN, from a root-only env_files file), both read from
// the environment as a Go service reads its configuration. The secret is shown by its last four
// characters only, as an app should.
func main() {
	token := os.Getenv("DEMO_TOKEN")
	if len(token) > 4 {
		token = token[len(token)-4:]
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Hello World! (LOG_LEVEL=%s, DEMO_TOKEN ends in %s)", os.Getenv("LOG_LEVEL"), token)
	})
	http.HandleFunc("/up", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	})
	log.Fatal(http.ListenAndServe(":8080", nil))
}
