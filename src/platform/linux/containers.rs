//! Containers' and pods' names, from the files the runtimes keep on disk: podman's and
//! cri-o's `containers.json` (containers/storage), docker's `config.v2.json`, the kubelet's
//! `/var/log/pods/NAMESPACE_NAME_UID` directories. Never by asking a daemon (one that hangs
//! would hang us).
//!
//! These files are root's: one not owned by root, not a regular file, or larger than a
//! runtime writes is not read (a user cannot plant names, or make us read a fifo).

use std::collections::HashMap;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use crate::model::{Context, Pod, Runtime};

/// containers/storage's home (podman as root, cri-o).
const STORAGE: &str = "/var/lib/containers/storage";
const DOCKER: &str = "/var/lib/docker/containers";
const POD_LOGS: &str = "/var/log/pods";
/// The largest state file read: containers.json of thousands of containers stays far below.
const MAX_BYTES: u64 = 64 << 20;

/// Names read so far; each file is read once per snapshot, and only when a context needs it.
#[derive(Default)]
pub struct Names {
    /// Container id to name, from every containers.json (podman, cri-o).
    storage: Option<HashMap<String, String>>,
    docker: HashMap<String, Option<String>>,
    /// Pod uid to (namespace, name).
    pods: Option<HashMap<String, (String, String)>>,
}

impl Names {
    /// Fill in the names `context` has none for, where the runtime's files give them.
    pub fn fill(&mut self, context: &mut Context) {
        match context {
            Context::Container(container) => {
                if container.name.is_none() {
                    container.name = self.container(container.runtime, &container.id);
                }
                if let Some(pod) = &mut container.pod {
                    self.fill_pod(pod);
                }
            }
            Context::Pod(pod) => self.fill_pod(pod),
            Context::Unit(_) => {}
        }
    }

    fn container(&mut self, runtime: Option<Runtime>, id: &str) -> Option<String> {
        let from_storage = |names: &mut Self| {
            names
                .storage
                .get_or_insert_with(|| storage_names(Path::new(STORAGE)))
                .get(id)
                .cloned()
        };
        match runtime {
            Some(Runtime::Docker) => self.docker_name(id),
            Some(Runtime::Podman | Runtime::Crio) => from_storage(self),
            Some(Runtime::Containerd) => None,
            None => from_storage(self).or_else(|| self.docker_name(id)),
        }
    }

    fn docker_name(&mut self, id: &str) -> Option<String> {
        self.docker
            .entry(id.to_string())
            .or_insert_with(|| {
                let path = Path::new(DOCKER).join(id).join("config.v2.json");
                read_root_file(&path).and_then(|text| docker_name(&text))
            })
            .clone()
    }

    fn fill_pod(&mut self, pod: &mut Pod) {
        if pod.name.is_some() {
            return;
        }
        let pods = self
            .pods
            .get_or_insert_with(|| pod_names(Path::new(POD_LOGS)));
        if let Some((namespace, name)) = pods.get(&pod.uid) {
            pod.namespace = Some(namespace.clone());
            pod.name = Some(name.clone());
        }
    }
}

/// Container id to name from every `*-containers/containers.json` under a containers/storage
/// root (the directory is named by the storage driver: overlay, vfs, btrfs...).
fn storage_names(root: &Path) -> HashMap<String, String> {
    let mut names = HashMap::new();
    let Ok(entries) = std::fs::read_dir(root) else {
        return names;
    };
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().ends_with("-containers") {
            continue;
        }
        if let Some(text) = read_root_file(&entry.path().join("containers.json")) {
            names.extend(containers_json(&text));
        }
    }
    names
}

/// containers/storage's `containers.json`: `[{"id": "...", "names": ["web"], ...}]`. cri-o's
/// names are the kubelet's `k8s_CONTAINER_POD_NAMESPACE_UID_ATTEMPT`: the container's part is
/// kept (the pod's comes with the pod).
fn containers_json(text: &str) -> Vec<(String, String)> {
    #[derive(serde::Deserialize)]
    struct Entry {
        id: String,
        #[serde(default)]
        names: Vec<String>,
    }
    let entries: Vec<Entry> = serde_json::from_str(text).unwrap_or_default();
    entries
        .into_iter()
        .filter_map(|entry| {
            let name = entry.names.into_iter().next()?;
            let name = match name.strip_prefix("k8s_") {
                Some(kubelet) => kubelet.split('_').next().unwrap_or(&name).to_string(),
                None => name,
            };
            Some((entry.id, name))
        })
        .collect()
}

/// docker's `config.v2.json`: `{"Name": "/web", ...}`.
fn docker_name(text: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Config {
        #[serde(rename = "Name")]
        name: String,
    }
    let config: Config = serde_json::from_str(text).ok()?;
    let name = config.name.trim_start_matches('/');
    (!name.is_empty()).then(|| name.to_string())
}

/// Pod uid to (namespace, name) from the kubelet's log directories `NAMESPACE_NAME_UID`
/// (namespaces and pod names cannot hold `_`).
fn pod_names(root: &Path) -> HashMap<String, (String, String)> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return HashMap::new();
    };
    entries
        .flatten()
        .filter(|entry| entry.metadata().is_ok_and(|m| m.is_dir() && m.uid() == 0))
        .filter_map(|entry| pod_dir(&entry.file_name().to_string_lossy()))
        .collect()
}

fn pod_dir(name: &str) -> Option<(String, (String, String))> {
    let mut parts = name.split('_');
    let (namespace, pod, uid) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || namespace.is_empty() || pod.is_empty() || uid.len() != 36 {
        return None;
    }
    Some((uid.to_string(), (namespace.to_string(), pod.to_string())))
}

/// The text of a regular file owned by root, read without following a final link and without
/// waiting on a fifo; `None` for anything else, or beyond [`MAX_BYTES`].
fn read_root_file(path: &Path) -> Option<String> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.uid() != 0 || meta.len() > MAX_BYTES {
        return None;
    }
    let mut text = String::new();
    file.take(MAX_BYTES).read_to_string(&mut text).ok()?;
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "2f1e6b6a1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f";

    #[test]
    fn podman_and_cri_o_names_from_containers_json() {
        let text = format!(
            r#"[{{"id":"{ID}","names":["web"],"image":"x","layer":"y","metadata":"{{}}"}},
               {{"id":"ab","names":["k8s_nginx_web-7d9_default_9e4b8b4c-3f5a-4d1e-8c2b-7a6f5e4d3c2b_0"]}},
               {{"id":"cd"}}]"#
        );
        let names: HashMap<_, _> = containers_json(&text).into_iter().collect();
        assert_eq!(names.get(ID).map(String::as_str), Some("web"));
        assert_eq!(names.get("ab").map(String::as_str), Some("nginx"));
        assert_eq!(names.get("cd"), None);
        assert!(containers_json("not json").is_empty());
    }

    #[test]
    fn docker_names_lose_their_slash() {
        assert_eq!(
            docker_name(r#"{"ID":"x","Name":"/web","State":{}}"#),
            Some("web".into())
        );
        assert_eq!(docker_name(r#"{"Name":"/"}"#), None);
        assert_eq!(docker_name("{"), None);
    }

    #[test]
    fn pod_directories_name_namespace_pod_and_uid() {
        let uid = "9e4b8b4c-3f5a-4d1e-8c2b-7a6f5e4d3c2b";
        assert_eq!(
            pod_dir(&format!("kube-system_coredns-5d78c9869d-abcde_{uid}")),
            Some((
                uid.into(),
                ("kube-system".into(), "coredns-5d78c9869d-abcde".into())
            ))
        );
        assert_eq!(pod_dir("a_b"), None);
        assert_eq!(pod_dir(&format!("a_b_c_{uid}")), None);
    }

    #[test]
    fn a_state_file_not_owned_by_root_or_not_regular_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("containers.json");
        std::fs::write(&file, "[]").unwrap();
        assert_eq!(read_root_file(&file).as_deref(), Some("[]"), "run as root");
        std::os::unix::fs::chown(&file, Some(65534), None).unwrap();
        assert_eq!(read_root_file(&file), None, "owned by nobody");
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert_eq!(read_root_file(&fifo), None, "a fifo, without blocking");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("/proc/self/status", &link).unwrap();
        assert_eq!(read_root_file(&link), None, "a link");
    }
}
