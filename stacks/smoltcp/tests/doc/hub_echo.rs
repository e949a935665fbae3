// Two nodes on an in-process hub, each with its own stack and address, and a TCP echo
// between them.
use std::io::{Read, Write};

use ioth::Stack;
use ioth::net::{TcpListener, TcpStream};
use ioth_smoltcp as _; // link the backend: `stack=smoltcp` finds it by name

fn main() -> std::io::Result<()> {
    let (server, _) = Stack::from_config("stack=smoltcp vnl=hub://@echo eth ip=10.0.0.1/24")?;
    let (client, _) = Stack::from_config("stack=smoltcp vnl=hub://@echo eth ip=10.0.0.2/24")?;
    let listener = TcpListener::bind_on(&server, "10.0.0.1:7")?;
    let echo = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut conn, _) = listener.accept()?;
        let mut buf = [0u8; 4];
        conn.read_exact(&mut buf)?;
        conn.write_all(&buf)
    });

    let mut conn = TcpStream::connect_on(&client, "10.0.0.1:7")?;
    conn.write_all(b"ciao")?;
    let mut reply = [0u8; 4];
    conn.read_exact(&mut reply)?;
    assert_eq!(&reply, b"ciao");
    assert_eq!(conn.local_addr()?.ip().to_string(), "10.0.0.2");
    echo.join().expect("the echo thread")
}
