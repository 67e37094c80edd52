package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"
)

// bashCompletion asks ferry itself for the candidates: urfave/cli answers a command line that
// ends in --generate-bash-completion with the commands or flags that may come next.
const bashCompletion = `# bash completion for ferry.
# Load it now:      source <(ferry completion bash)
# Or for good:      ferry completion bash > /etc/bash_completion.d/ferry
_ferry_complete() {
  local cur="${COMP_WORDS[COMP_CWORD]}"
  local -a line=("${COMP_WORDS[@]:0:COMP_CWORD}")
  local candidates
  if [[ "$cur" == -* ]]; then
    candidates="$("${line[@]}" "$cur" --generate-bash-completion 2>/dev/null)"
  else
    candidates="$("${line[@]}" --generate-bash-completion 2>/dev/null)"
  fi
  local IFS=$'\n'
  COMPREPLY=($(compgen -W "$candidates" -- "$cur"))
}
complete -o bashdefault -o default -F _ferry_complete ferry
`

// zshCompletion is native zsh (no bashcompinit): it works sourced after compinit, or saved as
// _ferry in a directory on $fpath.
const zshCompletion = `#compdef ferry
# zsh completion for ferry.
# Load it now (after compinit):  source <(ferry completion zsh)
# Or for good:                   ferry completion zsh > "${fpath[1]}/_ferry"
_ferry() {
  local cur="${words[CURRENT]}"
  local -a line candidates
  line=("${(@)words[1,CURRENT-1]}")
  if [[ "$cur" == -* ]]; then
    candidates=("${(@f)$("${line[@]}" "$cur" --generate-bash-completion 2>/dev/null)}")
  else
    candidates=("${(@f)$("${line[@]}" --generate-bash-completion 2>/dev/null)}")
  fi
  if [[ -n "${candidates[1]}" ]]; then
    compadd -a candidates
  else
    _files
  fi
}
if [[ "${funcstack[1]}" == "_ferry" ]]; then
  _ferry "$@"
else
  compdef _ferry ferry
fi
`

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script for bash, zsh or fish",
		ArgsUsage: "bash|zsh|fish",
		Description: `Commands and flags complete; file names complete where no command or flag fits.

Examples:
   ferry completion bash > /etc/bash_completion.d/ferry
   source <(ferry completion bash)                    # bash, this shell only
   ferry completion zsh > "${fpath[1]}/_ferry"        # zsh, after compinit
   ferry completion fish > ~/.config/fish/completions/ferry.fish`,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageError("completion: name one shell: bash, zsh or fish")
			}
			script, err := completionScript(newApp(io.Discard, io.Discard), c.Args().First())
			if err != nil {
				return err
			}
			_, err = io.WriteString(c.App.Writer, script)
			return err
		},
	}
}

// completionScript returns shell's completion script for app.
func completionScript(app *cli.App, shell string) (string, error) {
	switch shell {
	case "bash":
		return bashCompletion, nil
	case "zsh":
		return zshCompletion, nil
	case "fish":
		s, err := app.ToFishCompletion()
		if err != nil {
			return "", fmt.Errorf("generating the fish completion: %w", err)
		}
		return "# fish completion for ferry: ferry completion fish > ~/.config/fish/completions/ferry.fish\n" + s, nil
	}
	return "", usageError("completion: unknown shell %q: want bash, zsh or fish", shell)
}
