"""GorillaFileSystem: an in-memory Unix-like file tree (BFCL multi-turn backend).

Behaviour, return shapes and messages follow BFCL's documented backend: paths
are one level at a time for `cd`, `mv`/`cp` take a bare name as destination
(moving into a directory when that name is one), errors come back as
`{"error": ...}` rather than exceptions. State compared: the tree under `root`
(names and file contents) and the long-context flag.
"""

from __future__ import annotations

from evalpack.benchmarks.bfcl.backends.base import Backend

_BAD_CHARS = set('|/\\?%*:"><')


class File:
    def __init__(self, name: str, content: str = "") -> None:
        self.name = name
        self.content = content

    def __eq__(self, other) -> bool:
        return isinstance(other, File) and (self.name, self.content) == (other.name, other.content)

    def __repr__(self) -> str:
        return f"<<File: {self.name}, Content: {self.content}>>"


class Directory:
    def __init__(self, name: str, parent: "Directory | None" = None) -> None:
        self.name = name
        self.parent = parent
        self.contents: dict[str, File | Directory] = {}

    def add_file(self, name: str, content: str = "") -> None:
        self.contents[name] = File(name, content)

    def add_directory(self, name: str) -> "Directory":
        self.contents[name] = Directory(name, self)
        return self.contents[name]

    def get(self, name: str):
        return self if name == "." else self.contents.get(name)

    def __eq__(self, other) -> bool:
        return isinstance(other, Directory) and self.name == other.name and self.contents == other.contents

    def __repr__(self) -> str:
        parent = self.parent.name if self.parent else None
        return f"<Directory: {self.name}, Parent: {parent}, Contents: {self.contents}>"


class GorillaFileSystem(Backend):
    def load(self, config: dict, long_context: bool = False, noise: dict | None = None) -> None:
        self._noise = noise or {}
        self.long_context = long_context
        self.root = Directory("/", None)
        if "root" in config:
            # only the first top-level entry becomes the root (as upstream)
            root_name, root_spec = next(iter(config["root"].items()))
            self.root = self._build(root_spec["contents"], Directory(root_name, None))
        self._cwd = self.root

    def _build(self, spec: dict, directory: Directory) -> Directory:
        leaf = True
        for name, item in spec.items():
            if item["type"] == "directory":
                leaf = False
                directory.contents[name] = self._build(item["contents"], Directory(name, directory))
            elif item["type"] == "file":
                content = item["content"]
                if self.long_context and name not in self._noise["files_tail_used"]:
                    content += self._noise["file_content"]
                directory.contents[name] = File(name, content)
        if leaf and self.long_context:
            for name in self._noise["populate_files"]:
                directory.add_file(name)
        return directory

    # ------------------------------------------------------------ helpers
    def _resolve(self, path: str | None):
        if path is None or path == ".":
            return self._cwd
        if path == "/":
            return self.root
        node = self.root if path.startswith("/") else self._cwd
        for part in path.strip("/").split("/"):
            nxt = node.get(part)
            if not isinstance(nxt, Directory):
                return {"error": f"cd: '{path}': No such file or directory"}
            node = nxt
        return node

    def _file(self, name: str):
        item = self._cwd.contents.get(name)
        return item if isinstance(item, File) else None

    # ------------------------------------------------------------ tools
    def pwd(self):
        names, node = [], self._cwd
        while node is not None:
            names.append(node.name)
            node = node.parent
        return {"current_working_directory": "/" + "/".join(reversed(names))}

    def ls(self, a: bool = False):
        names = list(self._cwd.contents)
        if not a:
            names = [n for n in names if not n.startswith(".")]
        return {"current_directory_content": names}

    def cd(self, folder: str):
        folder = folder.rstrip("/") or "/"
        if folder not in (".", "..", "/") and "/" in folder:
            return {"error": f"cd: {folder}: Unsupported path. Only one folder level at a time is supported."}
        if folder == "..":
            if self._cwd.parent:
                self._cwd = self._cwd.parent
                return {}
            if self._cwd == self.root:
                return {"error": "Current directory is already the root. Cannot go back."}
            return {"error": "cd: ..: No such directory"}
        target = self._resolve(folder)
        if isinstance(target, dict):
            return target
        self._cwd = target
        return {"current_working_directory": target.name}

    def mkdir(self, dir_name: str):
        if _BAD_CHARS & set(dir_name):
            return {"error": f"mkdir: cannot create directory '{dir_name}': Invalid character"}
        if dir_name in self._cwd.contents:
            return {"error": f"mkdir: cannot create directory '{dir_name}': File exists"}
        self._cwd.add_directory(dir_name)
        return None

    def touch(self, file_name: str):
        if _BAD_CHARS & set(file_name):
            return {"error": f"touch: cannot touch '{file_name}': Invalid character"}
        if file_name in self._cwd.contents:
            return {"error": f"touch: cannot touch '{file_name}': File exists"}
        self._cwd.add_file(file_name)
        return None

    def echo(self, content: str, file_name: str | None = None):
        if file_name is None:
            return {"terminal_output": content}
        if _BAD_CHARS & set(file_name):
            return {"error": f"echo: cannot write to '{file_name}': Invalid character"}
        if not file_name:
            return {"terminal_output": content}
        if file_name not in self._cwd.contents:
            return {"error": f"echo: cannot write to '{file_name}': No such file"}
        self._cwd.contents[file_name].content = content
        return None

    def cat(self, file_name: str):
        if _BAD_CHARS & set(file_name):
            return {"error": f"cat: '{file_name}': Invalid character"}
        item = self._cwd.contents.get(file_name)
        if item is None:
            return {"error": f"cat: '{file_name}': No such file or directory"}
        if isinstance(item, Directory):
            return {"error": f"cat: '{file_name}': Is a directory"}
        return {"file_content": item.content}

    def find(self, path: str = ".", name: str | None = None):
        start = self._resolve(path)
        if isinstance(start, dict):
            message = start["error"]
            return {"error": message.replace("cd:", "find:", 1)} if message.startswith("cd:") else start
        matches = []

        def walk(directory: Directory, prefix: str) -> None:
            for item_name, item in directory.contents.items():
                item_path = f"{prefix}/{item_name}"
                if name is None or name in item_name:
                    matches.append(item_path)
                if isinstance(item, Directory):
                    walk(item, item_path)

        walk(start, path.rstrip("/"))
        return {"matches": matches}

    def wc(self, file_name: str, mode: str = "l"):
        if mode not in ("l", "w", "c"):
            return {"error": f"wc: invalid mode '{mode}'"}
        item = self._file(file_name)
        if item is None:
            return {"error": f"wc: {file_name}: No such file or directory"}
        if mode == "l":
            return {"count": len(item.content.splitlines()), "type": "lines"}
        if mode == "w":
            return {"count": len(item.content.split()), "type": "words"}
        return {"count": len(item.content), "type": "characters"}

    def sort(self, file_name: str):
        item = self._file(file_name)
        if item is None:
            return {"error": f"sort: {file_name}: No such file or directory"}
        return {"sorted_content": "\n".join(sorted(item.content.splitlines()))}

    def grep(self, file_name: str, pattern: str):
        item = self._file(file_name)
        if item is None:
            return {"error": f"grep: {file_name}: No such file or directory"}
        return {"matching_lines": [line for line in item.content.splitlines() if pattern in line]}

    def du(self, human_readable: bool = False):
        def size(item) -> int:
            if isinstance(item, File):
                return len(item.content.encode("utf-8"))
            return sum(size(child) for child in item.contents.values())

        total = size(self._cwd)
        if not human_readable:
            return {"disk_usage": f"{total} bytes"}
        value = float(total)
        for unit in ("B", "KB", "MB", "GB", "TB"):
            if value < 1024:
                return {"disk_usage": f"{value:.2f} {unit}"}
            value /= 1024
        return {"disk_usage": f"{value:.2f} PB"}

    def tail(self, file_name: str, lines: int = 10):
        item = self._file(file_name)
        if item is None:
            return {"error": f"tail: {file_name}: No such file or directory"}
        content = item.content.splitlines()
        lines = min(lines, len(content))
        return {"last_lines": "\n".join(content[-lines:])}

    def diff(self, file_name1: str, file_name2: str):
        first, second = self._file(file_name1), self._file(file_name2)
        if first is None or second is None:
            return {"error": f"diff: {file_name1} or {file_name2}: No such file or directory"}
        pairs = zip(first.content.splitlines(), second.content.splitlines())
        return {"diff_lines": "\n".join(f"- {a}\n+ {b}" for a, b in pairs if a != b)}

    def _transfer(self, verb: str, source: str, destination: str, keep_source: bool):
        past = "moved" if verb == "mv" else "copied"
        action = "move" if verb == "mv" else "copy"
        if source not in self._cwd.contents:
            return {"error": f"{verb}: cannot {action} '{source}': No such file or directory"}
        item = self._cwd.contents[source]
        if "/" in destination:
            return {"error": f"{verb}: path not allowed in destination. Provide only a file or directory name."}
        target_dir, new_name = self._cwd, destination
        if destination in self._cwd.contents:
            target_dir = self._cwd.contents[destination]
            if not isinstance(target_dir, Directory):
                return {"error": f"{verb}: cannot {action} '{source}' to '{destination}': Not a directory"}
            new_name = source
            if source in target_dir.contents:
                return {"error": f"{verb}: cannot {action} '{source}' to '{destination}/{source}': File exists"}
        if not keep_source:
            self._cwd.contents.pop(source)
        if isinstance(item, File):
            target_dir.add_file(new_name, item.content)
        else:
            copy_dir = target_dir.add_directory(new_name)
            copy_dir.contents = item.contents if not keep_source else dict(item.contents)
        where = f"{destination}/{source}" if target_dir is not self._cwd else destination
        return {"result": f"'{source}' {past} to '{where}'"}

    def mv(self, source: str, destination: str):
        return self._transfer("mv", source, destination, keep_source=False)

    def cp(self, source: str, destination: str):
        return self._transfer("cp", source, destination, keep_source=True)

    def rm(self, file_name: str):
        if file_name not in self._cwd.contents:
            return {"error": f"rm: cannot remove '{file_name}': No such file or directory"}
        self._cwd.contents.pop(file_name)
        return {"result": f"'{file_name}' removed"}

    def rmdir(self, dir_name: str):
        item = self._cwd.contents.get(dir_name)
        if item is None:
            return {"error": f"rmdir: cannot remove '{dir_name}': No such file or directory"}
        if not isinstance(item, Directory):
            return {"error": f"rmdir: cannot remove '{dir_name}': Not a directory"}
        if item.contents:
            return {"error": f"rmdir: cannot remove '{dir_name}': Directory not empty"}
        self._cwd.contents.pop(dir_name)
        return {"result": f"'{dir_name}' removed"}
