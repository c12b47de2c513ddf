import NIOCore
import NIOHTTPTypes
import Synchronization

/// Limits what slow or numerous clients can take from the dashboard: at most `limit` connections
/// at once (beyond, a new one replaces the oldest still waiting for its request head, so the
/// process keeps file descriptors and room for real requests), and each request's head must
/// arrive within `headerTimeout` of the connection opening or of the previous response (a client
/// sending its headers a byte at a time is closed). Together with
/// the idle timeout, a thousand slow sockets cannot stall `/healthz` (docs/dashboard.md).
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// Open connections, shared by every connection's guard. At the limit, a new connection takes
    /// the place of the oldest one still waiting for its request head (a slow client gives way to a
    /// new one); when every connection is busy with a request, the new one is closed.
    final class Count: Sendable {
        let limit: Int
        private struct State {
            var open = 0
            var next = 0
            /// Connections waiting for a request head, by when they started waiting.
            var waiting: [ObjectIdentifier: (order: Int, channel: any Channel)] = [:]
        }
        private let state = Mutex(State())

        init(limit: Int) { self.limit = limit }

        /// Counts one more; false when it must be closed.
        func enter() -> Bool {
            enum Decision { case admitted, admittedInPlaceOf(any Channel), refused }
            let decision: Decision = state.withLock { s in
                if s.open < limit {
                    s.open += 1
                    return .admitted
                }
                guard let oldest = s.waiting.min(by: { $0.value.order < $1.value.order }) else { return .refused }
                s.waiting[oldest.key] = nil
                s.open += 1  // the evicted one leaves when its channel closes
                return .admittedInPlaceOf(oldest.value.channel)
            }
            switch decision {
            case .admitted: return true
            case .admittedInPlaceOf(let channel):
                channel.close(promise: nil)
                return true
            case .refused: return false
            }
        }

        func leave() { state.withLock { $0.open -= 1 } }
        func waiting(_ id: ObjectIdentifier, _ channel: (any Channel)?) {
            state.withLock { s in
                if let channel {
                    s.next += 1
                    s.waiting[id] = (s.next, channel)
                } else {
                    s.waiting[id] = nil
                }
            }
        }
        var current: Int { state.withLock { $0.open } }
    }

    let count: Count
    let headerTimeout: TimeAmount
    private var counted = false
    private var waiting: Scheduled<Void>?

    init(count: Count, headerTimeout: TimeAmount) {
        self.count = count
        self.headerTimeout = headerTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        guard count.enter() else {
            context.close(promise: nil)
            return
        }
        counted = true
        armHeaderTimer(context)
    }

    private var id: ObjectIdentifier { ObjectIdentifier(self) }

    func handlerRemoved(context: ChannelHandlerContext) {
        waiting?.cancel()
        waiting = nil
        count.waiting(id, nil)
        if counted {
            counted = false
            count.leave()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        waiting?.cancel()
        waiting = nil
        count.waiting(id, nil)
        if counted {
            counted = false
            count.leave()
        }
        context.fireChannelInactive()
    }

    private func armHeaderTimer(_ context: ChannelHandlerContext) {
        waiting?.cancel()
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        waiting = context.eventLoop.scheduleTask(in: headerTimeout) { loopBound.value.close(promise: nil) }
        count.waiting(id, context.channel)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) {
            waiting?.cancel()
            waiting = nil
            count.waiting(id, nil)
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // A response ended: the next request's head has `headerTimeout` to arrive.
        if case .end = unwrapOutboundIn(data) { armHeaderTimer(context) }
        context.write(data, promise: promise)
    }
}
