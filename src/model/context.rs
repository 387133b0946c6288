//! What a socket or a process runs as, read from its cgroup v2 path: a container (and the
//! runtime that made it), a Kubernetes pod, or a systemd unit.
//!
//! Only the path's shape is read here; names (a container's, a pod's) come from the runtimes'
//! files on disk and are filled in by the platform code.

/// A cgroup v2: its path (from the root of rnetstat's cgroup namespace, as `ss --cgroup`
/// and `/proc/PID/cgroup` write it) and what that path says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    pub path: String,
    pub context: Option<Context>,
}

/// The container runtime whose cgroup naming a path follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Runtime {
    Docker,
    Podman,
    Containerd,
    Crio,
}

impl Runtime {
    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Docker => "docker",
            Runtime::Podman => "podman",
            Runtime::Containerd => "containerd",
            Runtime::Crio => "cri-o",
        }
    }
}

/// A Kubernetes pod, known by its uid; its name and namespace when the kubelet's files say.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pod {
    /// The pod's uid, with dashes (`0f3e...-...`), as `kubectl get pod -o yaml` shows it.
    pub uid: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
}

impl Pod {
    /// `namespace/name`, else the uid's first 8 characters.
    pub fn label(&self) -> String {
        match (&self.namespace, &self.name) {
            (Some(namespace), Some(name)) => format!("{namespace}/{name}"),
            (None, Some(name)) => name.clone(),
            _ => self.uid.chars().take(8).collect(),
        }
    }
}

/// A container: its runtime (when the path says), its 64-hex id, and its name when the
/// runtime's files on disk give it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Container {
    /// `None` when the path does not say (a bare id under a Kubernetes pod: containerd or
    /// docker with the cgroupfs driver).
    pub runtime: Option<Runtime>,
    pub id: String,
    pub name: Option<String>,
    /// The Kubernetes pod it belongs to, if any.
    pub pod: Option<Pod>,
}

/// What a cgroup path says about whoever is in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Context {
    Container(Container),
    /// A pod's own cgroup, outside any of its containers.
    Pod(Pod),
    /// A systemd unit: `nginx.service`, `session-3.scope`, `init.scope`.
    Unit(String),
}

/// A container id: 64 lowercase hex digits, as docker, podman, containerd and cri-o make them.
fn is_container_id(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The container one path segment names, with the runtime its prefix says; `parent`: the
/// segment above it (a bare id under `/docker` is docker's cgroupfs driver).
fn container_in<'a>(segment: &'a str, parent: Option<&str>) -> Option<(Option<Runtime>, &'a str)> {
    if is_container_id(segment) {
        let runtime = match parent {
            Some("docker") => Some(Runtime::Docker),
            // containerd's own namespaces (ctr, nerdctl with the cgroupfs driver).
            Some("default" | "k8s.io") => Some(Runtime::Containerd),
            _ => None,
        };
        return Some((runtime, segment));
    }
    let unit = segment.strip_suffix(".scope").unwrap_or(segment);
    const PREFIXES: [(&str, Runtime); 5] = [
        ("docker-", Runtime::Docker),
        ("libpod-", Runtime::Podman),
        ("cri-containerd-", Runtime::Containerd),
        ("nerdctl-", Runtime::Containerd),
        ("crio-", Runtime::Crio),
    ];
    PREFIXES.iter().find_map(|(prefix, runtime)| {
        let id = unit.strip_prefix(prefix)?;
        is_container_id(id).then_some((Some(*runtime), id))
    })
}

/// The pod uid one path segment names: `pod<uid>` (cgroupfs driver) or
/// `kubepods[-<qos>]-pod<uid with _ for ->.slice` (systemd driver).
fn pod_in(segment: &str) -> Option<String> {
    let uid = match segment.strip_suffix(".slice") {
        // kind nests the kubelet's slices under `kubelet-`.
        Some(slice) => slice
            .strip_prefix("kubelet-")
            .unwrap_or(slice)
            .strip_prefix("kubepods-")?
            .rsplit_once("pod")
            .filter(|(qos, _)| qos.is_empty() || qos.ends_with('-'))?
            .1
            .replace('_', "-"),
        None => segment.strip_prefix("pod")?.to_string(),
    };
    let is_uid = uid.len() == 36
        && uid
            .bytes()
            .all(|b| b == b'-' || b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
    is_uid.then_some(uid)
}

impl Context {
    /// What the cgroup v2 `path` (as in `/proc/PID/cgroup` after `0::`) says: the innermost
    /// container, else the innermost pod, else the innermost `.service` or `.scope` unit;
    /// `None` for the root and for slices alone.
    pub fn of_path(path: &str) -> Option<Context> {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let pod_at = |end: usize| {
            segments[..end]
                .iter()
                .rev()
                .find_map(|s| pod_in(s))
                .map(|uid| Pod {
                    uid,
                    namespace: None,
                    name: None,
                })
        };
        for (at, segment) in segments.iter().enumerate().rev() {
            let parent = at.checked_sub(1).map(|p| segments[p]);
            if let Some((runtime, id)) = container_in(segment, parent) {
                return Some(Context::Container(Container {
                    runtime,
                    id: id.to_string(),
                    name: None,
                    pod: pod_at(at),
                }));
            }
        }
        if let Some(pod) = pod_at(segments.len()) {
            return Some(Context::Pod(pod));
        }
        segments
            .iter()
            .rev()
            .find(|s| s.ends_with(".service") || s.ends_with(".scope"))
            .map(|unit| Context::Unit(unit.to_string()))
    }

    /// What a table shows: `podman:web` (`podman:0123456789ab` without a name),
    /// `pod:default/nginx`, `unit:nginx.service`.
    pub fn label(&self) -> String {
        match self {
            Context::Container(container) => {
                let name = container
                    .name
                    .clone()
                    .unwrap_or_else(|| container.id[..12].to_string());
                match (&container.pod, container.runtime) {
                    (Some(pod), _) => format!("pod:{}/{name}", pod.label()),
                    (None, Some(runtime)) => format!("{}:{name}", runtime.as_str()),
                    (None, None) => format!("container:{name}"),
                }
            }
            Context::Pod(pod) => format!("pod:{}", pod.label()),
            Context::Unit(unit) => format!("unit:{unit}"),
        }
    }

    /// The container, if this is one.
    pub fn container(&self) -> Option<&Container> {
        match self {
            Context::Container(container) => Some(container),
            _ => None,
        }
    }

    /// The systemd unit, if this is one.
    pub fn unit(&self) -> Option<&str> {
        match self {
            Context::Unit(unit) => Some(unit),
            _ => None,
        }
    }

    /// The pod, of a pod's cgroup or of a container in one.
    pub fn pod(&self) -> Option<&Pod> {
        match self {
            Context::Container(container) => container.pod.as_ref(),
            Context::Pod(pod) => Some(pod),
            Context::Unit(_) => None,
        }
    }

    /// `container NAME|ID`: a container whose name is `word`, or whose id starts with it.
    pub fn is_container(&self, word: &str) -> bool {
        self.container().is_some_and(|container| {
            container.name.as_deref() == Some(word)
                || !word.is_empty() && container.id.starts_with(word)
        })
    }

    /// `unit NAME`: the unit `word`, or `word.service` when `word` has no unit suffix.
    pub fn is_unit(&self, word: &str) -> bool {
        self.unit().is_some_and(|unit| {
            unit == word
                || unit
                    .strip_suffix(".service")
                    .is_some_and(|bare| bare == word)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "2f1e6b6a1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f";
    const UID: &str = "9e4b8b4c-3f5a-4d1e-8c2b-7a6f5e4d3c2b";

    fn container(path: &str) -> (Option<Runtime>, String, Option<String>) {
        match Context::of_path(path) {
            Some(Context::Container(c)) => (c.runtime, c.id, c.pod.map(|p| p.uid)),
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn docker_with_the_systemd_and_the_cgroupfs_driver() {
        let systemd = format!("/system.slice/docker-{ID}.scope");
        assert_eq!(
            container(&systemd),
            (Some(Runtime::Docker), ID.into(), None)
        );
        let cgroupfs = format!("/docker/{ID}");
        assert_eq!(
            container(&cgroupfs),
            (Some(Runtime::Docker), ID.into(), None)
        );
        let rootless = format!("/user.slice/user-1000.slice/user@1000.service/docker-{ID}.scope");
        assert_eq!(container(&rootless).0, Some(Runtime::Docker));
    }

    #[test]
    fn podman_rootful_rootless_and_cgroupfs_and_its_monitor_apart() {
        for path in [
            format!("/machine.slice/libpod-{ID}.scope"),
            format!("/machine.slice/libpod-{ID}.scope/container"),
            format!("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope"),
            format!("/libpod_parent/libpod-{ID}"),
        ] {
            assert_eq!(container(&path), (Some(Runtime::Podman), ID.into(), None));
        }
        // conmon, podman's monitor, is not the container.
        let conmon = format!("/machine.slice/libpod-conmon-{ID}.scope");
        assert_eq!(
            Context::of_path(&conmon),
            Some(Context::Unit(format!("libpod-conmon-{ID}.scope")))
        );
    }

    #[test]
    fn containerd_alone_and_under_the_kubelet_with_either_driver() {
        assert_eq!(
            container(&format!("/default/{ID}")),
            (Some(Runtime::Containerd), ID.into(), None)
        );
        assert_eq!(
            container(&format!("/system.slice/nerdctl-{ID}.scope")).0,
            Some(Runtime::Containerd)
        );
        let pod = UID.replace('-', "_");
        let systemd = format!(
            "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{pod}.slice/\
             cri-containerd-{ID}.scope"
        );
        assert_eq!(
            container(&systemd),
            (Some(Runtime::Containerd), ID.into(), Some(UID.into()))
        );
        // The cgroupfs driver names the container by its bare id: the runtime is not said.
        let cgroupfs = format!("/kubepods/besteffort/pod{UID}/{ID}");
        assert_eq!(container(&cgroupfs), (None, ID.into(), Some(UID.into())));
    }

    #[test]
    fn cri_o_under_the_kubelet_with_either_driver_and_guaranteed_pods() {
        let pod = UID.replace('-', "_");
        let systemd = format!(
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{pod}.slice/\
             crio-{ID}.scope"
        );
        assert_eq!(
            container(&systemd),
            (Some(Runtime::Crio), ID.into(), Some(UID.into()))
        );
        let guaranteed = format!("/kubepods.slice/kubepods-pod{pod}.slice/crio-{ID}.scope");
        assert_eq!(container(&guaranteed).2, Some(UID.into()));
        let cgroupfs = format!("/kubepods/burstable/pod{UID}/crio-{ID}");
        assert_eq!(
            container(&cgroupfs),
            (Some(Runtime::Crio), ID.into(), Some(UID.into()))
        );
        // A pod's own cgroup, with no container in the path.
        let slice =
            format!("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{pod}.slice");
        assert_eq!(
            Context::of_path(&slice).and_then(|c| c.pod().map(|p| p.uid.clone())),
            Some(UID.into())
        );
        // crio's monitor is not the container either.
        let conmon = format!("/kubepods.slice/kubepods-pod{pod}.slice/crio-conmon-{ID}.scope");
        assert!(matches!(Context::of_path(&conmon), Some(Context::Pod(_))));
    }

    #[test]
    fn systemd_units_system_and_user_and_the_innermost_one_wins() {
        let unit = |path: &str| Context::of_path(path).and_then(|c| c.unit().map(String::from));
        assert_eq!(
            unit("/system.slice/nginx.service"),
            Some("nginx.service".into())
        );
        assert_eq!(
            unit("/system.slice/nginx.service/worker"),
            Some("nginx.service".into())
        );
        assert_eq!(unit("/init.scope"), Some("init.scope".into()));
        assert_eq!(
            unit("/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service"),
            Some("foo.service".into())
        );
        assert_eq!(
            unit("/user.slice/user-1000.slice/session-3.scope"),
            Some("session-3.scope".into())
        );
        assert_eq!(Context::of_path("/"), None);
        assert_eq!(Context::of_path("/system.slice"), None);
        assert_eq!(Context::of_path(""), None);
    }

    #[test]
    fn the_innermost_container_wins_when_containers_nest() {
        // A kind node: a docker container running the kubelet's pods.
        let pod = UID.replace('-', "_");
        let inner = ID.replace('2', "3");
        let path = format!(
            "/system.slice/docker-{ID}.scope/kubelet.slice/kubelet-kubepods.slice/\
             kubepods-pod{pod}.slice/cri-containerd-{inner}.scope"
        );
        assert_eq!(
            container(&path),
            (Some(Runtime::Containerd), inner, Some(UID.into()))
        );
    }

    #[test]
    fn what_only_looks_like_an_id_is_not_a_container() {
        for path in [
            "/docker/abc",
            "/system.slice/docker-ABCDEF.scope",
            &format!("/system.slice/docker-{}.scope", &ID[1..]),
            &format!("/system.slice/docker-{}.scope", ID.to_uppercase()),
            "/kubepods/burstable/podnot-a-uid",
        ] {
            assert!(
                !matches!(
                    Context::of_path(path),
                    Some(Context::Container(_) | Context::Pod(_))
                ),
                "{path}"
            );
        }
    }

    #[test]
    fn labels_and_the_filter_words() {
        let mut context = Context::of_path(&format!("/machine.slice/libpod-{ID}.scope")).unwrap();
        assert_eq!(context.label(), format!("podman:{}", &ID[..12]));
        assert!(context.is_container(&ID[..12]));
        assert!(!context.is_container("web"));
        assert!(!context.is_container(""));
        if let Context::Container(container) = &mut context {
            container.name = Some("web".into());
        }
        assert_eq!(context.label(), "podman:web");
        assert!(context.is_container("web"));
        assert!(!context.is_unit("web"));

        let unit = Context::Unit("nginx.service".into());
        assert_eq!(unit.label(), "unit:nginx.service");
        assert!(unit.is_unit("nginx") && unit.is_unit("nginx.service"));
        assert!(!unit.is_unit("nginx.scope") && !unit.is_container("nginx"));
        assert!(!Context::Unit("a.scope".into()).is_unit("a"));

        let pod = Pod {
            uid: UID.into(),
            namespace: Some("default".into()),
            name: Some("web-7d9".into()),
        };
        assert_eq!(Context::Pod(pod.clone()).label(), "pod:default/web-7d9");
        let in_pod = Context::Container(Container {
            runtime: Some(Runtime::Crio),
            id: ID.into(),
            name: Some("nginx".into()),
            pod: Some(pod),
        });
        assert_eq!(in_pod.label(), "pod:default/web-7d9/nginx");
    }
}
