//! A stack from iothconf configuration lines, as the originals' `stack`/`rstack`/`fstack`
//! lines and `-s` options give them.

use std::io;

use ioth::Stack;

/// Creates a stack from `lines`: the first is an `ioth_newstackc` string (`stack=`, `vnl=`
/// and configuration), each later one an `ioth_config` string applied to it. No lines: the
/// kernel stack. Strict, unlike the originals: an item that failed to apply (a gateway
/// outside every subnet, a protocol the stack lacks) is an error naming the line and item,
/// and the stack is dropped.
pub fn build(lines: &[String]) -> io::Result<Stack> {
    let Some((first, rest)) = lines.split_first() else {
        return Stack::new("kernel", &[]);
    };
    let (stack, report) = Stack::from_config(first)
        .map_err(|e| io::Error::new(e.kind(), format!("stack {first:?}: {e}")))?;
    check(first, &report)?;
    for line in rest {
        let report = stack
            .configure(line)
            .map_err(|e| io::Error::new(e.kind(), format!("stack configuration {line:?}: {e}")))?;
        check(line, &report)?;
    }
    Ok(stack)
}

fn check(line: &str, report: &ioth::config::Report) -> io::Result<()> {
    match report.failed.first() {
        None => Ok(()),
        Some((item, e)) => Err(io::Error::new(
            e.kind(),
            format!("stack configuration {line:?}: {item}: {e}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_lines_is_the_kernel() {
        crate::link_backends!();
        let stack = build(&[]).expect("kernel");
        assert_eq!(stack.implementation(), "kernel");
    }

    #[test]
    fn a_user_space_stack_is_configured_line_by_line() {
        crate::link_backends!();
        let hub = format!("hub:///tmp/ioth-service-stack-{}", std::process::id());
        let lines = vec![
            format!("stack=smoltcp,vnl={hub},eth"),
            "ip=10.1.2.3/24".to_string(),
        ];
        let stack = build(&lines).expect("build");
        let addrs = stack.getifaddrs().expect("addrs");
        assert!(
            addrs
                .iter()
                .any(|a| format!("{:?}", a.addr).contains("10.1.2.3")),
            "{addrs:?}"
        );
    }

    #[test]
    fn a_failed_item_is_an_error_naming_it() {
        crate::link_backends!();
        let hub = format!("hub:///tmp/ioth-service-fail-{}", std::process::id());
        let lines = vec![format!(
            "stack=smoltcp,vnl={hub},eth,ip=10.1.2.3/24,gw=192.168.9.1"
        )];
        let err = build(&lines).expect_err("gateway outside the subnet");
        assert!(err.to_string().contains("192.168.9.1"), "{err}");
        let err = build(&["stack=nosuchstack".to_string()]).expect_err("no such stack");
        assert!(err.to_string().contains("nosuchstack"), "{err}");
    }
}
