package gitrepo

import (
	"io/fs"
	"sort"

	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

func sortDirEntries(d []fs.DirEntry) {
	sort.Slice(d, func(i, j int) bool { return d[i].Name() < d[j].Name() })
}

// sortTreeEntries puts entries in Git's tree order: names compared bytewise, a directory as if
// its name ended in "/".
func sortTreeEntries(es []object.TreeEntry) {
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	sort.Slice(es, func(i, j int) bool { return key(es[i]) < key(es[j]) })
}
