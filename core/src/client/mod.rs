//! The client: Connection, Row, statements, driver — generic over a transport.
