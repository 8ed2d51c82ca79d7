mod support;
use support::*;

#[tokio::test]
async fn echo_round_trip() {
    within(async {
        let (c, s) = tcp_pair().await;
        assert_eq!(c.send("hello").await.unwrap(), 5);
        assert_eq!(&receive_exact(&s, 5).await[..], b"hello");
        let bs: blade_socket::blocking::Socket = s.into();
        let t = std::thread::spawn(move || {
            bs.send("back").unwrap();
            bs
        });
        assert_eq!(&receive_exact(&c, 4).await[..], b"back");
        t.join().unwrap();
    })
    .await;
}
