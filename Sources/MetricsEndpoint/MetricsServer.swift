import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus

/// Serves a Prometheus registry over HTTP, for Prometheus to scrape (the `MetricsEndpoint` product's
/// one type):
///
/// - `GET /metrics`: every metric of the registry, in the text exposition format (swift-prometheus
///   renders it; label values are escaped there);
/// - `GET /healthz`: `200 ok` while `health` says so, `503` and its reason otherwise.
///
/// ```swift
/// let registry = PrometheusCollectorRegistry()
/// MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))   // swift-metrics → Prometheus
/// let endpoint = try await MetricsServer.start(registry: registry, host: "127.0.0.1", port: 9464)
/// ...
/// try await endpoint.stop()
/// ```
///
/// `gradalert watch --metrics-listen` uses it; a Swift training program can too, to be scraped
/// directly. One event loop thread; a scrape renders the registry on it.
public final class MetricsServer: Sendable {
    /// The port it listens on (the one the system chose, when 0 was asked for).
    public let port: Int
    public let host: String
    private let channel: any Channel
    private let group: MultiThreadedEventLoopGroup

    private init(host: String, port: Int, channel: any Channel, group: MultiThreadedEventLoopGroup) {
        self.host = host
        self.port = port
        self.channel = channel
        self.group = group
    }

    /// Starts listening on `host:port` (port 0: any free port). `health` is asked on every
    /// `/healthz` request.
    public static func start(
        registry: PrometheusCollectorRegistry, host: String, port: Int,
        health: @escaping @Sendable () -> (ok: Bool, message: String) = { (true, "ok") }
    ) async throws -> MetricsServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline(withErrorHandling: true).flatMap {
                    channel.pipeline.addHandler(Responder(registry: registry, health: health))
                }
            }
            .childChannelOption(.socketOption(.so_reuseaddr), value: 1)
        do {
            let channel = try await bootstrap.bind(host: host, port: port).get()
            let bound = channel.localAddress?.port ?? port
            return MetricsServer(host: host, port: bound, channel: channel, group: group)
        } catch {
            try? await group.shutdownGracefully()
            throw MetricsServerError(host: host, port: port, underlying: error)
        }
    }

    /// Stops listening and releases the thread.
    public func stop() async throws {
        try? await channel.close()
        try await group.shutdownGracefully()
    }
}

/// Why the server could not start: the address it was asked for and the system's reason
/// ("Address already in use", "Cannot assign requested address").
public struct MetricsServerError: Error, CustomStringConvertible, LocalizedError {
    public let host: String
    public let port: Int
    public let reason: String

    init(host: String, port: Int, underlying: any Error) {
        self.host = host
        self.port = port
        if let io = underlying as? IOError {
            reason = String(cString: strerror(io.errnoCode))
        } else {
            reason = String(describing: underlying)
        }
    }

    public var description: String {
        let address = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        return "cannot serve metrics on \(address): \(reason)"
    }

    public var errorDescription: String? { description }
}

/// Answers one request at a time on a connection: /metrics, /healthz, else 404; GET and HEAD only.
private final class Responder: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let registry: PrometheusCollectorRegistry
    let health: @Sendable () -> (ok: Bool, message: String)

    init(registry: PrometheusCollectorRegistry, health: @escaping @Sendable () -> (ok: Bool, message: String)) {
        self.registry = registry
        self.health = health
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let request) = unwrapInboundIn(data) else { return }
        let path = request.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.uri
        let status: HTTPResponseStatus
        let contentType: String
        var body: [UInt8]
        switch (request.method, path) {
        case (.GET, "/metrics"), (.HEAD, "/metrics"):
            status = .ok
            contentType = "text/plain; version=0.0.4; charset=utf-8"
            body = registry.emitToBuffer()
        case (.GET, "/healthz"), (.HEAD, "/healthz"):
            let (ok, message) = health()
            status = ok ? .ok : .serviceUnavailable
            contentType = "text/plain; charset=utf-8"
            body = Array((message + "\n").utf8)
        case (.GET, _), (.HEAD, _):
            status = .notFound
            contentType = "text/plain; charset=utf-8"
            body = Array("not found: try /metrics or /healthz\n".utf8)
        default:
            status = .methodNotAllowed
            contentType = "text/plain; charset=utf-8"
            body = Array("GET or HEAD only\n".utf8)
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(body.count))
        if request.method == .HEAD { body = [] }
        let keepAlive = request.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        if !body.isEmpty {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
