package manifests

// Change is one rewritten value.
type Change struct {
	Environment string `json:"environment,omitempty"`
	Image       string `json:"image,omitempty"`
	File        string `json:"file"`
	Line        int    `json:"line"`
	Field       string `json:"field"`
	From        string `json:"from"`
	To          string `json:"to"`
}
